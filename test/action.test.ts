import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { RunResult } from '../src/model/result.js';
import { useLab } from './support/lab.js';

/**
 * action.yml, the composite GitHub Action, run as a runner runs it: each step's script
 * through `bash --noprofile --norc -eo pipefail`, in the workspace, with the inputs and
 * ${{ github.action_path }} filled in the way Actions fills them (defaults where a workflow
 * gives none).
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const workspace = mkdtempSync(path.join(tmpdir(), 'kap-action-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));
const startLab = useLab();

interface Action {
  readonly inputs: Record<string, { readonly default?: string; readonly required?: boolean }>;
  readonly runs: {
    readonly using: string;
    readonly steps: readonly { readonly run: string; readonly shell: string; readonly env?: Record<string, string>; readonly 'working-directory'?: string }[];
  };
}

const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as Action;

/** Replaces ${{ inputs.name }} and ${{ github.action_path }} as the runner does. */
function expand(text: string, inputs: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{\{\s*(inputs\.([\w-]+)|github\.action_path)\s*\}\}/g, (_, expr: string, name: string | undefined) =>
    expr === 'github.action_path' ? ROOT : (inputs[name ?? ''] ?? action.inputs[name ?? '']?.default ?? ''),
  );
}

/** Runs every step of the action, asynchronously (the lab server lives in this process); returns the last step's exit code. */
async function runAction(inputs: Readonly<Record<string, string>>): Promise<number | null> {
  for (const [name, spec] of Object.entries(action.inputs))
    if (spec.required === true && inputs[name] === undefined) throw new Error(`input ${name} is required`);
  let status: number | null = 0;
  for (const step of action.runs.steps) {
    expect(step.shell).toBe('bash');
    const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(v, inputs)]));
    const cwd = step['working-directory'] === undefined ? workspace : expand(step['working-directory'], inputs);
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', expand(step.run, inputs)], {
      cwd,
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    if (status !== 0) return status;
  }
  return status;
}

describe('the GitHub Action (action.yml)', () => {
  it('is a composite action whose inputs all reach the probe through the environment', () => {
    expect(action.runs.using).toBe('composite');
    const probe = action.runs.steps.at(-1);
    for (const name of Object.keys(action.inputs)) expect(Object.values(probe?.env ?? {}).join(' ')).toContain(`inputs.${name}`);
    // Never pasted into a script: an input with shell syntax in it stays a value.
    for (const step of action.runs.steps) expect(step.run).not.toMatch(/\$\{\{\s*inputs\./);
  });

  it('probes with the inputs and writes the reports; a held expectation passes', async () => {
    const server = await startLab({ idleTimeoutMs: 700 });
    const status = await runAction({
      url: server.url,
      scenarios: 'http11-reuse idle-timeout',
      expect: 'reuse\nidle-timeout>=500ms',
      'max-idle': '5s',
      json: 'report.json',
    });
    expect(status).toBe(0);
    const report = JSON.parse(readFileSync(path.join(workspace, 'report.json'), 'utf8')) as RunResult;
    expect(report.scenarios.map((s) => s.id)).toEqual(['http11-reuse', 'idle-timeout']);
    expect(
      report.scenarios
        .flatMap((s) => s.expectations)
        .filter((e) => e.origin === 'cli')
        .map((e) => [e.expression, e.ok]),
    ).toEqual([
      ['reuse', true],
      ['idle-timeout>=500ms', true],
    ]);
    expect(existsSync(path.join(workspace, 'keepalive-junit.xml'))).toBe(true);
    expect(existsSync(path.join(workspace, 'keepalive.html'))).toBe(true);
  });

  it('fails the job (exit 1) when an expectation does not hold', async () => {
    const server = await startLab({ idleTimeoutMs: 700 });
    expect(await runAction({ url: server.url, scenarios: 'idle-timeout', behind: 'aws-alb', 'max-idle': '61s', junit: '', html: '' })).toBe(1);
  });
});
