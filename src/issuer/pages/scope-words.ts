/** Each scope as a person reads it on the consent and device pages; the raw name is shown beside it. */
const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your basic profile',
  offline_access: 'Stay connected when you are not using it',
};

/**
 * `apiWords` are the sentences of the APIs' scopes, as their operators registered them; the OpenID
 * scopes have ours.
 */
export function describeScopes(
  scopes: Iterable<string>,
  apiWords: Record<string, string> = {},
): Array<{ name: string; words: string }> {
  return [...new Set(scopes)].map((name) => ({ name, words: SCOPE_WORDS[name] ?? apiWords[name] ?? `Use “${name}”` }));
}
