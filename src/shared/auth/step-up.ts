import type { Actor } from './actor.ts';

/** Methods (RFC 8176) that show a second factor was used at sign-in. */
export const SECOND_FACTOR_METHODS = new Set(['otp', 'mfa', 'hwk', 'swk', 'sms', 'fido']);

/** True when the token shows a second factor no older than `maxAgeSeconds` (RFC 9470 step-up). */
export function hasRecentSecondFactor(
  actor: Extract<Actor, { kind: 'user' }>,
  maxAgeSeconds: number,
  now = Math.floor(Date.now() / 1000),
): boolean {
  return (
    actor.amr.some((method) => SECOND_FACTOR_METHODS.has(method)) &&
    actor.authTime !== undefined &&
    now - actor.authTime <= maxAgeSeconds
  );
}
