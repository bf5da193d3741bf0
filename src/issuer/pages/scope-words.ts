/** Each scope as a person reads it on the consent and device pages; the raw name is shown beside it. */
const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your basic profile',
  offline_access: 'Stay connected when you are not using it',
};

/** A registered API's scope as a person reads it: its operator's sentence, and which API it is on. */
export type ApiScopeWords = Record<string, { words: string; api: string }>;

/** The sentences of every registered API's scopes, by scope name. */
export async function apiScopeWords(apis: {
  list(): Promise<Array<{ name: string; scopes: Array<{ name: string; description: string }> }>>;
}): Promise<ApiScopeWords> {
  const words: ApiScopeWords = {};
  for (const api of await apis.list())
    for (const scope of api.scopes) words[scope.name] ??= { words: scope.description, api: api.name };
  return words;
}

/** Each scope in words: the OpenID scopes have ours, an API's scopes their operator's (see `apiScopeWords`). */
export function describeScopes(
  scopes: Iterable<string>,
  apiWords: ApiScopeWords = {},
): Array<{ name: string; words: string; api?: string }> {
  return [...new Set(scopes)].map((name) => {
    if (SCOPE_WORDS[name]) return { name, words: SCOPE_WORDS[name] };
    const registered = apiWords[name];
    return registered ? { name, words: registered.words, api: registered.api } : { name, words: `Use “${name}”` };
  });
}

/** The profile and email claims as a person reads them, for a client that asks for them one by one. */
const CLAIM_WORDS: Record<string, string> = {
  email: 'your email address',
  email_verified: 'whether your email address is confirmed',
  name: 'your name',
  given_name: 'your given name',
  family_name: 'your family name',
  preferred_username: 'your username',
  picture: 'your picture',
  locale: 'your language',
  zoneinfo: 'your time zone',
  updated_at: 'when your profile last changed',
};

/** Each claim asked for by name (the `claims` parameter), in words, beside the scopes. */
export function describeClaims(claims: Iterable<string>): Array<{ name: string; words: string }> {
  return [...new Set(claims)].map((name) => ({ name, words: `See ${CLAIM_WORDS[name] ?? `your “${name}”`}` }));
}
