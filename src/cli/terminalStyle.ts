/** Where colour is allowed, decided once per stream from the environment (hurl's context.rs style). */
export type ColorChoice = 'auto' | 'always' | 'never';

/**
 * Colour on a stream, first rule that applies: `--color always|never`; FORCE_COLOR (0 or
 * `false`: never; any other value, empty included: always, as chalk's supports-color reads
 * it); NO_COLOR set and not empty (no-color.org): never; TERM=dumb: never; else the stream
 * is a TTY. Every colour of the reports follows this one decision (chalk; cli-table3 is
 * given no colours of its own).
 */
export function useColor(choice: ColorChoice, isTty: boolean, env: NodeJS.ProcessEnv): boolean {
  if (choice === 'always') return true;
  if (choice === 'never') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return isTty;
}
