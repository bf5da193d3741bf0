import { TASK_SCOPES } from '../../shared/protocol.ts';

/** Each scope as a person reads it on the consent and device pages; the raw name is shown beside it. */
const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your basic profile',
  offline_access: 'Stay connected when you are not using it',
  [TASK_SCOPES.read]: 'See your tasks',
  [TASK_SCOPES.write]: 'Create, change and complete your tasks',
  [TASK_SCOPES.admin]: 'Manage everyone’s tasks (administrators only)',
  [TASK_SCOPES.work]: 'Work on queued tasks as a service',
};

export function describeScopes(scopes: Iterable<string>): Array<{ name: string; words: string }> {
  return [...new Set(scopes)].map((name) => ({ name, words: SCOPE_WORDS[name] ?? `Use “${name}”` }));
}
