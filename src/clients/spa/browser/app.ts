import { OAuthSession, SessionExpiredError, type AppSettings } from './oauth-session.ts';

interface Task {
  id: string;
  title: string;
  status: 'open' | 'in_progress' | 'done';
  owner: string;
  assignee: string | null;
  assigneeEmail: string | null;
}

const SILENT_TRIED = 'latchkey-demo.silent-tried';
const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attributes: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** One line a person can act on, for every way a call can fail. */
function say(message: string, kind: 'info' | 'error' = 'info'): void {
  const status = $('#status');
  status.textContent = message;
  status.dataset.kind = kind;
}

async function problemOf(response: Response): Promise<string> {
  if (response.status === 403) return 'You can’t do that: this task is not yours to change.';
  if (response.status === 404) return 'That task no longer exists.';
  if (response.status === 429) return 'Too many requests; wait a moment and try again.';
  const body = (await response.json().catch(() => undefined)) as
    { error?: { code?: string; message?: string } } | undefined;
  if (body?.error?.code === 'unknown_assignee')
    return 'Nobody with that email address uses this app yet: they need to sign in to it once.';
  return body?.error?.message ?? `The task service answered ${response.status}.`;
}

function showSignedOut(session: OAuthSession, reason?: string): void {
  $('#signing-in').hidden = true;
  $('#signed-in').hidden = true;
  $('#signed-out').hidden = false;
  if (reason) say(reason, 'error');
  $('#sign-in').onclick = () => void session.signIn();
}

/** Finishes a sign-in the issuer redirected back with, or tries a silent one once; false when signed out. */
async function signedIn(session: OAuthSession): Promise<boolean> {
  try {
    if (await session.completeSignIn(new URL(location.href))) sessionStorage.removeItem(SILENT_TRIED);
  } catch (error) {
    const code = (error as { error?: string }).error ?? (error as Error).message;
    // prompt=none found no session at the issuer: show the sign-in button, no error.
    if (code === 'login_required' || code === 'interaction_required') showSignedOut(session);
    else
      showSignedOut(
        session,
        code === 'access_denied' ? 'Sign-in was cancelled.' : 'Sign-in did not finish. Try again.',
      );
    return false;
  }
  if (session.signedIn) return true;
  // Tokens live in memory only: after a reload, the issuer's session signs us in again without a page.
  if (!sessionStorage.getItem(SILENT_TRIED)) {
    sessionStorage.setItem(SILENT_TRIED, '1');
    $('#signing-in').hidden = false;
    await session.signIn(true);
  } else showSignedOut(session);
  return false;
}

type ApiCall = (method: string, path: string, body?: unknown) => Promise<Response | undefined>;

/** Calls the task API; a refusal or an outage is said on the page, and an expired session signs out. */
function apiCaller(session: OAuthSession): ApiCall {
  return async (method, path, body) => {
    try {
      const response = await session.api(method, path, body);
      if (response.ok) return response;
      say(await problemOf(response), 'error');
    } catch (error) {
      if (error instanceof SessionExpiredError) {
        sessionStorage.setItem(SILENT_TRIED, '1');
        showSignedOut(session, 'Your session has expired. Sign in again.');
      } else say('The task service cannot be reached. Check your connection and try again.', 'error');
    }
    return undefined;
  };
}

/** One task's row: title, status, assignee, and its actions, each followed by a fresh list. */
function taskRow(task: Task, me: string | undefined, call: ApiCall, refresh: () => Promise<void>): HTMLElement {
  const row = element('li', undefined, { 'data-task-id': task.id, 'data-status': task.status });
  row.append(
    element('span', task.title, { class: 'title' }),
    element('span', task.status.replace('_', ' '), { class: 'badge' }),
  );
  if (task.assignee) {
    const who = task.assignee === me ? 'me' : (task.assigneeEmail ?? 'someone');
    row.append(element('span', `assigned to ${who}`, { class: 'muted' }));
  }
  const actions = element('span', undefined, { class: 'actions' });
  // Each button's accessible name says which task it acts on ("Done: Water the plants").
  const button = (label: string, action: () => Promise<void>) => {
    const node = element('button', label, { type: 'button', 'aria-label': `${label}: ${task.title}` });
    node.onclick = () => void action().then(refresh);
    actions.append(node);
  };
  if (task.status !== 'done')
    button('Done', async () => {
      if (await call('PATCH', `/tasks/${task.id}`, { status: 'done' })) say(`“${task.title}” is done.`);
    });
  button('Edit', async () => {
    const title = prompt('New title', task.title)?.trim();
    if (title && (await call('PATCH', `/tasks/${task.id}`, { title }))) say('Saved.');
  });
  button('Assign', async () => {
    const typed = prompt('Assign to (their email address; empty to clear)', task.assigneeEmail ?? '');
    if (typed === null) return;
    const email = typed.trim();
    const body = email ? { assigneeEmail: email } : { assignee: null };
    if (await call('PUT', `/tasks/${task.id}/assignee`, body))
      say(email ? `Assigned to ${email}.` : 'No longer assigned.');
  });
  row.append(actions);
  return row;
}

async function run(): Promise<void> {
  const settings = (await (await fetch('/config.json')).json()) as AppSettings;
  const session = await OAuthSession.open(settings);
  if (!(await signedIn(session))) return;

  $('#signing-in').hidden = true;
  $('#signed-out').hidden = true;
  $('#signed-in').hidden = false;
  $('#who').textContent = session.user?.email ?? session.user?.sub ?? '';
  $('#sign-out').onclick = () => {
    sessionStorage.removeItem(SILENT_TRIED);
    void session.signOut();
  };
  const call = apiCaller(session);

  async function refreshList(): Promise<void> {
    const response = await call('GET', '/tasks/mine?limit=100');
    if (!response) return;
    const { items } = (await response.json()) as { items: Task[] };
    const list = $('#tasks');
    list.replaceChildren();
    if (items.length === 0) list.append(element('li', 'No tasks yet.', { class: 'empty' }));
    for (const task of items) list.append(taskRow(task, session.user?.sub, call, refreshList));
  }

  $<HTMLFormElement>('#new-task').onsubmit = async (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>('#title');
    const title = input.value.trim();
    if (!title) return;
    if (await call('POST', '/tasks', { title })) {
      input.value = '';
      say(`Added “${title}”.`);
    }
    await refreshList();
  };
  $('#reload').onclick = () => void refreshList();
  await refreshList();
}

run().catch(() => {
  $('#signing-in').hidden = true;
  say('The app could not start: is the issuer running?', 'error');
});
