import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TEST_PASSWORD, totpCode } from './issuer-harness.ts';
import { projectRoot } from './processes.ts';

/** Debian's Chromium (apt-get install chromium); `.ci/run` installs it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const needsChromium = existsSync(CHROMIUM_PATH)
  ? false
  : `needs Chromium at ${CHROMIUM_PATH} (apt-get install chromium); CI installs it`;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where screenshots are kept as test artifacts. */
export async function artifactPath(name: string): Promise<string> {
  const directory = path.join(projectRoot, 'test-results', 'screenshots');
  await mkdir(directory, { recursive: true });
  return path.join(directory, name);
}

/** A person at the issuer's sign-in page: address, password, and the authenticator code when the account has one. */
export async function signInOnPage(
  page: Page,
  person: { email: string; password?: string; totpSecret?: string | undefined },
): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(person.email);
  await page.getByLabel('Password').fill(person.password ?? TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  if (person.totpSecret) {
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.getByLabel('Code', { exact: true }).fill(await totpCode(person.totpSecret));
    await page.getByRole('button', { name: 'Verify' }).click();
  }
}
