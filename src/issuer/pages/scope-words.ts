/** Each scope as a person reads it on the consent and device pages; the raw name is shown beside it. */
const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your basic profile',
  offline_access: 'Stay connected when you are not using it',
  'tasks:read': 'See your tasks',
  'tasks:write': 'Create, change and complete your tasks',
  'tasks:admin': 'Manage everyone’s tasks (administrators only)',
  'tasks:work': 'Work on queued tasks as a service',
};

export function describeScopes(scopes: Iterable<string>): Array<{ name: string; words: string }> {
  return [...new Set(scopes)].map((name) => ({ name, words: SCOPE_WORDS[name] ?? `Use “${name}”` }));
}
