import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll } from 'vitest';
import { serverBinary } from './realServer.js';

/** Where tests keep what a person may want to look at afterwards (screenshots); not committed. */
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

/**
 * Debian's Chromium, driven by playwright-core (which downloads no browser of its own), with
 * the flags this machine's closed network needs: without the background-networking ones
 * Chromium keeps trying to reach Google's hosts. Null (tests skipped, or failed under CI)
 * when chromium is not installed. Closed after the file's tests.
 */
export function useChromium(): (() => Promise<Browser>) | null {
  const executablePath = serverBinary('chromium', ['/usr/bin/chromium'], 'apt-get install chromium');
  if (executablePath === null) return null;
  let browser: Browser | null = null;
  afterAll(async () => {
    await browser?.close();
  });
  return async () => {
    browser ??= await chromium.launch({
      executablePath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 30_000,
    });
    return browser;
  };
}

/** The artifacts folder, created on first use. */
export function artifactPath(name: string): string {
  if (!existsSync(ARTIFACTS)) mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
