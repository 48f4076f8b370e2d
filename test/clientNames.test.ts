import { describe, expect, it } from 'vitest';
import { CLIENT_NAMES } from '../src/catalog/clientNames.js';
import { CLIENT_PROFILES } from '../src/catalog/clientProfiles.js';

describe('the --client names', () => {
  it('are the client profiles’ names, in their order (--help and completion read the list, the run reads the profiles)', () => {
    expect(CLIENT_PROFILES.map((p) => p.name)).toEqual([...CLIENT_NAMES]);
  });
});
