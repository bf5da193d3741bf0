import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { artifactPath, launchBrowser, needsChromium, signInOnPage } from '../support/browser.ts';
import { REAL_POSTGRES_URL, temporaryDirectory } from '../support/environment.ts';
import { waitForStatus } from '../support/http.ts';
import { freePort, projectRoot, spawnEntry, type Spawned } from '../support/processes.ts';

const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
const walkthrough = readme.slice(readme.indexOf('### Walkthrough'), readme.indexOf('**Node versions.**'));
const scripts = (
  JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

/**
 * What the README tells a new user to type and press, word for word. The test below does exactly
 * these things; if the README changes one of them, this list (and with it the test) must follow.
 */
const WRITTEN = {
  movePorts: 'export ISSUER_PORT=3100 TASK_API_PORT=4100 SPA_PORT=5200',
  app: 'open http://localhost:5173, press *Sign in*, then *Create an\n   account*',
  outbox: '`cat .data/outbox/*.txt`',
  createAccount: 'choose your password and press *Create account*; *Continue to\n   Latchkey Tasks*',
  taskctlLogin: '`npm run taskctl -- login`',
  device: '*Continue* with the code, sign in if asked, and *Allow* the device',
  taskctlAdd: '`npm run taskctl -- tasks add "Water the plants"`',
  taskctlList: '`npm run taskctl -- tasks list`',
  worker: '`npm run worker`',
};

/** The npm scripts those commands run, as package.json defines them (run here without npm in between). */
const ENTRIES = {
  start: 'src/start-all.ts',
  taskctl: 'src/clients/cli/taskctl.ts',
  worker: 'src/clients/worker/main.ts',
};

async function portsFree(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer().once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

/** Ctrl-C, as a person would, and the process's own graceful exit. */
async function stop(process: Spawned): Promise<void> {
  process.child.kill('SIGINT');
  await process.exited;
}

describe('the README’s walkthrough', { skip: needsChromium }, () => {
  it('says word for word what the test below does, and its commands are the npm scripts the test runs', () => {
    for (const [step, words] of Object.entries(WRITTEN)) assert.ok(walkthrough.includes(words), `${step}: ${words}`);
    assert.equal(scripts.start, `node ${ENTRIES.start}`);
    assert.equal(scripts.taskctl, `node ${ENTRIES.taskctl}`);
    assert.equal(scripts.worker, `node ${ENTRIES.worker}`);
  });

  it(
    'works as written on moved ports after a first start on the defaults: an account through the pages and the outbox, the app, taskctl approved in the browser, the worker',
    // The walkthrough is the embedded one (no DATABASE_URL): it runs in the embedded pass of the suite.
    { skip: REAL_POSTGRES_URL ? 'the README walkthrough is embedded; it runs in the embedded pass' : false },
    async () => {
      const home = await temporaryDirectory();
      const dataDir = path.join(home.path, '.data');
      const base = { NODE_ENV: 'development', LOG_FORMAT: 'json', DATA_DIR: dataDir, HOME: home.path };
      const browser = await launchBrowser();
      const running: Spawned[] = [];
      try {
        // The first start, on the default ports when they are free here (on a developer's machine they may not be).
        const defaults = [3000, 4000, 5173];
        const first = (await portsFree(defaults)) ? defaults : [await freePort(), await freePort(), await freePort()];
        const firstStart = spawnEntry(ENTRIES.start, {
          ...base,
          ...(first === defaults
            ? {}
            : { ISSUER_PORT: String(first[0]), TASK_API_PORT: String(first[1]), SPA_PORT: String(first[2]) }),
        });
        running.push(firstStart);
        await waitForStatus(`http://127.0.0.1:${first[0]}/readyz`, 200, 60_000);
        await waitForStatus(`http://127.0.0.1:${first[2]}/healthz`, 200, 30_000);
        await stop(firstStart);

        // The ports move (as the README's `export ISSUER_PORT=… TASK_API_PORT=… SPA_PORT=…`), nothing else.
        const [issuerPort, apiPort, spaPort] = [await freePort(), await freePort(), await freePort()];
        const moved = {
          ...base,
          ISSUER_PORT: String(issuerPort),
          TASK_API_PORT: String(apiPort),
          SPA_PORT: String(spaPort),
        };
        const issuer = `http://localhost:${issuerPort}`;
        const app = `http://localhost:${spaPort}`;
        const all = spawnEntry(ENTRIES.start, moved);
        running.push(all);
        await waitForStatus(`http://127.0.0.1:${issuerPort}/readyz`, 200, 60_000);
        await waitForStatus(`http://127.0.0.1:${apiPort}/readyz`, 200, 30_000);
        await waitForStatus(`http://127.0.0.1:${spaPort}/healthz`, 200, 30_000);

        // 1. An account, made as anyone would: from the app's sign-in, through the mail in the outbox.
        const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
        await page.goto(app);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('link', { name: 'Create an account' }).click();
        const email = 'reader@example.com';
        await page.getByLabel('Email').fill(email);
        await page.getByRole('button', { name: 'Send me the link' }).click();
        await page.getByRole('heading', { name: 'Check your email' }).waitFor();
        const link = await linkFromOutbox(path.join(dataDir, 'outbox'), /verify-email/);
        assert.ok(link.startsWith(`${issuer}/verify-email/`), `the link follows the moved port: ${link}`);
        await page.goto(link);
        const password = 'correct horse battery staple of the walkthrough';
        await page.getByLabel('Password').fill(password);
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.getByRole('heading', { name: 'Your account is ready' }).waitFor();
        await page.getByRole('link', { name: 'Continue to Latchkey Tasks' }).click();

        // 2. The browser app.
        await page.waitForURL(`${app}/**`);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await signInOnPage(page, { email, password });
        await page.waitForURL(`${app}/**`);
        await page.getByText(email).waitFor();
        await page.getByLabel('New task').fill('Buy bread');
        await page.getByRole('button', { name: 'Add' }).click();
        await page.getByRole('button', { name: 'Done: Buy bread' }).click();
        await page.locator('#tasks li[data-status=done]', { hasText: 'Buy bread' }).waitFor();

        // 3. The command line, approved in the same browser.
        const taskctl = (...args: string[]) => spawnEntry(ENTRIES.taskctl, moved, args);
        const login = taskctl('login', '--no-browser');
        running.push(login);
        await login.waitForOutput(/enter the code [A-Z]{4}-[A-Z]{4}/);
        const [, verificationUri, userCode] = /open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})/.exec(login.output())!;
        assert.equal(verificationUri, `${issuer}/device`);
        await page.goto(verificationUri);
        await page.getByLabel('Code from your device').fill(userCode!);
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.getByRole('heading', { name: 'Allow this device?' }).waitFor();
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.getByRole('heading', { name: 'Device connected' }).waitFor();
        assert.equal((await login.exited).code, 0, login.output());
        const added = taskctl('tasks', 'add', 'Water the plants');
        assert.equal((await added.exited).code, 0, added.output());
        const listed = taskctl('tasks', 'list');
        assert.equal((await listed.exited).code, 0);
        assert.match(listed.output(), /Water the plants/);

        // 4. The worker completes the open task; the app shows it done.
        const worker = spawnEntry(ENTRIES.worker, moved);
        running.push(worker);
        await worker.waitForOutput(/"msg":"completed a task"/, 60_000);
        await stop(worker);
        await page.goto(app);
        await page.locator('#tasks li[data-status=done]', { hasText: 'Water the plants' }).waitFor();
        await page.screenshot({ path: await artifactPath('walkthrough-app.png'), fullPage: true });

        await stop(all);
        assert.equal((await all.exited).code, 0, 'Ctrl-C stops everything cleanly');
      } finally {
        for (const process of running) if (process.child.exitCode === null) await stop(process);
        await browser.close();
        await home.remove();
      }
    },
  );
});

/** The link in the newest matching `.txt` of the outbox, read whole as a person copying it would. */
async function linkFromOutbox(outbox: string, pattern: RegExp): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const texts = (await readdir(outbox).catch(() => [])).filter((file) => file.endsWith('.txt')).sort();
    for (const file of texts.reverse()) {
      const text = await readFile(path.join(outbox, file), 'utf8');
      const link = text.split(/\s+/).find((word) => word.startsWith('http') && pattern.test(word));
      if (link) return link;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail in ${outbox} with a link matching ${String(pattern)}`);
}
