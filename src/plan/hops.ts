import { InputError } from '../model/errors.js';

/** `--hop name=URL`, parsed. */
export interface Hop {
  readonly name: string;
  readonly url: string;
}

/** A --hop value that cannot be used. */
export class HopError extends InputError {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/** Parses `name=URL`; hops are listed from the client inward (the load balancer first, its backend next). */
export function parseHops(values: readonly string[]): Hop[] {
  const hops = values.map((value) => {
    const eq = value.indexOf('=');
    const name = value.slice(0, eq);
    if (eq === -1 || !NAME.test(name))
      throw new HopError(`invalid --hop "${value}": expected name=URL, the name made of letters, digits, - and _ (for example --hop lb=https://lb.internal/)`);
    return { name, url: value.slice(eq + 1) };
  });
  const names = hops.map((h) => h.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new HopError(`--hop name "${twice}" is given twice`);
  if (hops.length === 1)
    throw new HopError('--hop needs at least two hops (the one in front first), for example --hop lb=http://lb/ --hop app=http://app:8080/');
  return hops;
}
