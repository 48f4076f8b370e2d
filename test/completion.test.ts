import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from './support/cli.js';

/**
 * `keepalive-probe completion <shell>`: the script is generated from the CLI's own option
 * definitions, so this runs bash's completion function on partial words, as bash does on Tab.
 */
function bashCompletes(words: readonly string[]): string[] {
  const script = [
    `source <(${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} completion bash)`,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    '_keepalive_probe',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template.
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 10_000 });
  expect(result.stderr).toBe('');
  return result.stdout.split('\n').filter((w) => w !== '');
}

describe('shell completion', () => {
  it.each([
    [['keepalive-probe', 'r'], ['run']],
    [
      ['keepalive-probe', ''],
      ['run', 'analyze', 'serve', 'list', 'completion', 'explain', '--help', '--version'],
    ],
    [['keepalive-probe', 'run', '--max-i'], ['--max-idle']],
    [
      ['keepalive-probe', 'run', '--re'],
      ['--response-timeout', '--resolve'],
    ],
    [['keepalive-probe', 'run', '-s', 'idle'], ['idle-timeout']],
    [['keepalive-probe', 'run', 'http://x/', '--client', 'ok'], ['okhttp']],
    [
      ['keepalive-probe', 'run', '--behind', ''],
      ['aws-alb', 'nginx-upstream'],
    ],
    [
      ['keepalive-probe', 'run', '--color', 'a'],
      ['auto', 'always'],
    ],
    [
      ['keepalive-probe', 'serve', '--close', ''],
      ['fin', 'rst', 'half', 'drop'],
    ],
    [['keepalive-probe', 'serve', '--ad'], ['--advertise']],
    [['keepalive-probe', 'completion', 'f'], ['fish']],
  ])('bash: %j → %j', (words, expected) => {
    expect(bashCompletes(words)).toEqual(expected);
  });

  it('every option of run is offered (the script follows the option definitions)', () => {
    const help = spawnSync(process.execPath, [BIN, 'run', '--help'], { encoding: 'utf8' }).stdout;
    const longs = [...help.matchAll(/(?:^|\s)(--[a-z][a-z-]+)/g)].map((m) => m[1] as string);
    const offered = bashCompletes(['keepalive-probe', 'run', '--']);
    expect(new Set(longs).size).toBeGreaterThan(20);
    for (const long of new Set(longs)) expect(offered).toContain(long);
  });

  it.for([
    ['zsh', ['zsh', '-n']],
    ['fish', ['fish', '--no-execute']],
  ] as const)('%s: the script is valid for the shell (when it is installed)', ([shell, check], ctx) => {
    const script = spawnSync(process.execPath, [BIN, 'completion', shell], { encoding: 'utf8' }).stdout;
    expect(script).toContain(shell === 'fish' ? 'complete -c keepalive-probe' : 'bashcompinit');
    if (spawnSync('sh', ['-c', `command -v ${shell}`]).status !== 0) return ctx.skip(`${shell} is not installed`);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kap-completion-')), `keepalive-probe.${shell}`);
    writeFileSync(file, script);
    const result = spawnSync(check[0], [...check.slice(1), file], { encoding: 'utf8', timeout: 10_000 });
    expect(result.status, result.stderr).toBe(0);
    if (shell === 'fish') {
      const offered = spawnSync('fish', ['-c', `source ${file}; complete -C "keepalive-probe serve --close "`], { encoding: 'utf8', timeout: 10_000 }).stdout;
      expect(offered.split('\n').map((l) => l.split('\t')[0])).toEqual(['drop', 'fin', 'half', 'rst', '']);
    }
  });

  it('an unknown shell is a usage error', () => {
    const result = spawnSync(process.execPath, [BIN, 'completion', 'tcsh'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^keepalive-probe: .*tcsh.*bash, zsh, fish/);
  });
});
