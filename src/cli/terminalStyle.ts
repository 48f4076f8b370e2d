/** Where colour is allowed, decided once per stream from the environment (hurl's context.rs style). */
export type ColorChoice = 'auto' | 'always' | 'never';

/**
 * Colour on a stream: never with NO_COLOR (any non-empty value, no-color.org) or TERM=dumb
 * unless forced; otherwise `--color always|never`, or auto = the stream is a TTY.
 */
export function useColor(choice: ColorChoice, isTty: boolean, env: NodeJS.ProcessEnv): boolean {
  if (choice === 'always') return true;
  if (choice === 'never') return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return isTty;
}
