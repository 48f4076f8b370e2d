import { CLIENT_PROFILES } from '../catalog/clientProfiles.js';
import type { ClientProfile } from '../catalog/clientProfiles.js';
import { InputError } from '../model/errors.js';
import { didYouMean } from '../util/didYouMean.js';

/** The client the user runs: a built-in profile, or one described only by `--client-idle`. */
export interface ClientChoice {
  readonly profile: ClientProfile | null;
  /** --client-idle: the pool's idle limit as configured, overriding the profile's default. */
  readonly idleMs: number | null;
}

export class UnknownClientError extends InputError {}

/** Resolves `--client <name>` / `--client-idle`; null when neither was given. */
export function chooseClient(name: string | null, idleMs: number | null): ClientChoice | null {
  if (name === null && idleMs === null) return null;
  const profile = name === null ? null : (CLIENT_PROFILES.find((p) => p.name === name) ?? null);
  if (name !== null && profile === null) {
    throw new UnknownClientError(
      `unknown client "${name}"${didYouMean(
        name,
        CLIENT_PROFILES.map((p) => p.name),
      )}: known clients are ${CLIENT_PROFILES.map((p) => p.name).join(', ')} (docs/clients.md)`,
    );
  }
  return { profile, idleMs };
}
