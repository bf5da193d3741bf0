import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Server-side request forgery guard for webhook deliveries: a subscriber's URL must not reach the
 * issuer's own network (loopback, private ranges, link-local such as cloud metadata at
 * 169.254.169.254, unique-local, multicast, unspecified). The host is resolved at every attempt, so
 * a name that later points inside is refused then; the request goes to the checked address.
 */
const FORBIDDEN = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  FORBIDDEN.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  FORBIDDEN.addSubnet(network, prefix, 'ipv6');

export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries (BlockList would match
  // every IPv4 address against a ::ffff:0:0/96 rule, so there is none).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return FORBIDDEN.check(mapped, 'ipv4');
  return FORBIDDEN.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export type UrlVerdict = { allowed: true; address: string; family: 4 | 6 } | { allowed: false; reason: string };

export interface AddressPolicy {
  /** Production: only https URLs. */
  httpsOnly: boolean;
  /** Tests and private deployments: loopback and private addresses allowed. */
  allowPrivate: boolean;
}

/** A URL's shape alone (at creation): the scheme and, for a literal address, the address. */
export function urlProblem(url: string, policy: AddressPolicy): string | undefined {
  if (!URL.canParse(url)) return 'is not a URL';
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && (policy.httpsOnly || parsed.protocol !== 'http:'))
    return policy.httpsOnly ? 'must be an https:// URL' : 'must be an http:// or https:// URL';
  if (parsed.username || parsed.password) return 'must not carry a user name or password';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !policy.allowPrivate && isForbiddenAddress(host)) return 'points at a private or local address';
  return undefined;
}

/** Resolves the URL's host now and says whether a delivery may go there, and to which address. */
export async function checkDestination(url: string, policy: AddressPolicy): Promise<UrlVerdict> {
  const problem = urlProblem(url, policy);
  if (problem) return { allowed: false, reason: `the URL ${problem}` };
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) as 4 | 6 }]
    : await lookup(host, { all: true }).catch(() => []);
  if (addresses.length === 0) return { allowed: false, reason: 'the host does not resolve' };
  // Every address the name has must be allowed: otherwise a name with one public and one private
  // address could be sent to the private one by the resolver's order.
  if (!policy.allowPrivate && addresses.some((entry) => isForbiddenAddress(entry.address)))
    return { allowed: false, reason: 'the host resolves to a private or local address' };
  const [first] = addresses;
  return { allowed: true, address: first!.address, family: first!.family as 4 | 6 };
}
