import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { artifactPath } from './browser.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The widths every page is checked and photographed at. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 860 },
  phone: { width: 390, height: 844 },
} as const;
export type Viewport = keyof typeof VIEWPORTS;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** Tab from the top of the page reaches every visible control once around. */
async function everyControlByKeyboard(page: Page, name: string): Promise<void> {
  // Browser-side expressions as text: this project's TypeScript has no DOM library.
  const controls = await page.evaluate<number>(
    "[...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')].filter((element) => element.checkVisibility()).length",
  );
  await page.evaluate('document.activeElement?.blur()');
  const reached = new Set<string>();
  // A date field takes a Tab per part (day, month, year): up to three presses per control, stopping once all are reached.
  for (let press = 0; press < controls * 3 + 3 && reached.size < controls; press += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate<string | null>(
      "(() => { const element = document.activeElement; if (!element || element === document.body) return null; return element.tagName + '#' + [...document.querySelectorAll(element.tagName)].indexOf(element); })()",
    );
    if (focused) reached.add(focused);
  }
  assert.ok(reached.size >= controls, `${name}: Tab reached ${reached.size} of ${controls} controls`);
}

/**
 * axe-core in the page (the page's CSP bypassed for the checker only): no serious or critical
 * violation; then every control reached by keyboard; then a picture for a person to look at
 * (test-results/screenshots/page-NAME-VIEWPORT.png).
 */
export async function checkPage(page: Page, name: string, viewport: Viewport): Promise<void> {
  await page.waitForLoadState('domcontentloaded');
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate<AxeViolation[]>('axe.run().then((result) => result.violations)');
  const grave = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  assert.deepEqual(
    grave.map((violation) => `${violation.id}: ${violation.help} at ${JSON.stringify(violation.nodes[0]?.target)}`),
    [],
    `${name} (${viewport})`,
  );
  await everyControlByKeyboard(page, `${name} (${viewport})`);
  await page.screenshot({ path: await artifactPath(`page-${name}-${viewport}.png`), fullPage: true });
}
