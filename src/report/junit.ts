import type { ProbeErrorInfo, RunResult, ScenarioResult } from '../model/result.js';
import { errorText, uncertainBy } from './format.js';
import { xmlText } from './xml.js';

/**
 * JUnit XML for CI test-report plugins (GitHub Actions, GitLab, Jenkins): one test case per
 * scenario; a failed expectation is a <failure>, a scenario that could not run an <error>
 * (the same split as exit codes 1 and 3). Warnings pass and are listed in system-out.
 */
export function renderJunit(result: RunResult): string {
  const failures = result.scenarios.filter((s) => s.status === 'fail').length;
  // A target that could not be probed is one test case in error, so the CI shows why.
  const errors = result.scenarios.filter((s) => s.status === 'error').length + (result.error === null ? 0 : 1);
  const tests = result.scenarios.length + (result.error === null ? 0 : 1);
  const time = seconds(result.durationMs);
  const suite = `keepalive-probe ${result.target.url}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="keepalive-probe" tests="${tests}" failures="${failures}" errors="${errors}" time="${time}">`,
    `  <testsuite name="${xmlText(suite)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="0" time="${time}" timestamp="${xmlText(result.startedAt)}">`,
    '    <properties>',
    `      <property name="target" value="${xmlText(result.target.url)}"/>`,
    `      <property name="server" value="${xmlText(result.target.server ?? '')}"/>`,
    `      <property name="version" value="${xmlText(result.tool.version)}"/>`,
    `      <property name="evidence.socketTable" value="${xmlText(result.evidence.socketTable)}"/>`,
    ...(result.evidence.capture === undefined
      ? []
      : [
          `      <property name="evidence.capture.file" value="${xmlText(result.evidence.capture.file)}"/>`,
          `      <property name="evidence.capture.connections" value="${result.evidence.capture.connections}"/>`,
        ]),
    '    </properties>',
    ...(result.error === null ? [] : unprobedCase(result.error)),
    ...result.scenarios.flatMap((s) => testCase(s)),
    '  </testsuite>',
    '</testsuites>',
  ];
  return `${lines.join('\n')}\n`;
}

function testCase(s: ScenarioResult): string[] {
  const open = `    <testcase classname="keepalive-probe.${xmlText(s.id)}" name="${xmlText(`${s.id}: ${s.title}`)}" time="${seconds(s.durationMs)}">`;
  const body: string[] = [];
  if (s.error !== null) {
    body.push(`      <error type="${xmlText(s.error.code)}" message="${xmlText(s.error.message)}">${xmlText(s.error.message)}</error>`);
  } else if (s.status === 'fail') {
    const failed = s.expectations.filter((e) => !e.ok && e.severity === 'fail');
    const lines = failed.map((e) => xmlText(`${e.message} (expected ${e.expression}, measured ${JSON.stringify(e.measured)})`));
    body.push(`      <failure type="expectation" message="${xmlText(failed.map((e) => e.expression).join('; '))}">${lines.join('\n')}</failure>`);
  }
  const out = [
    ...Object.entries(s.metrics).map(([k, v]) => {
      const error = uncertainBy(s, k);
      return `${k} = ${JSON.stringify(v)}${error === null ? '' : ` (±${error} ms: uncertain)`}`;
    }),
    ...s.findings.map((f) => `- ${f.text}`),
    ...s.expectations.filter((e) => !e.ok && e.severity === 'warn').map((e) => `warning: ${e.message}`),
    ...s.advice.map((a) => `advice: ${a}`),
  ];
  if (out.length > 0) body.push(`      <system-out>${out.map((line) => xmlText(line)).join('\n')}</system-out>`);
  return [open, ...body, '    </testcase>'];
}

function unprobedCase(error: ProbeErrorInfo): string[] {
  return [
    '    <testcase classname="keepalive-probe.preflight" name="preflight: the target answers HTTP" time="0.000">',
    `      <error type="${xmlText(error.code)}" message="${xmlText(error.message)}">${xmlText(errorText(error))}</error>`,
    '    </testcase>',
  ];
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
