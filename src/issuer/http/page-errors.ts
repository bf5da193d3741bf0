import { AppError, type WayForward } from '../../shared/http/errors.ts';

/**
 * The refusals a person meets on the issuer's pages, each with its words and a way forward. The
 * error-pages middleware renders them as a page for a browser; an API client gets the JSON envelope.
 */

const ACCOUNT: WayForward = { href: '/account', text: 'Go to your Latchkey account' };
/** The current step of a sign-in, shown again with a fresh form (the sign-in itself may still be alive). */
const currentStep = (uid: string): WayForward => ({
  href: `/interaction/${encodeURIComponent(uid)}`,
  text: 'Start again',
});

/** The form's token did not match: an old tab, a form sent twice, or cookies cleared in between. */
export const expiredForm = (retry: WayForward) =>
  new AppError(403, 'forbidden', 'This form has expired; go back and try again.', {}, retry, 'This page has expired');

/** The form did not come from our own page (another site submitted it). */
export const foreignForm = (retry: WayForward) =>
  new AppError(403, 'forbidden', 'This form must be sent from the sign-in page.', {}, retry);

/** A step was submitted after the sign-in had moved past it (a double submit, the back button). */
export const stepAlreadyDone = (uid: string) =>
  new AppError(
    400,
    'invalid_request',
    'This step of the sign-in is already done.',
    {},
    currentStep(uid),
    'Already done',
  );

/** A second factor was submitted with no first factor waiting (it timed out after ten minutes). */
export const signInExpired = (uid: string) =>
  new AppError(
    400,
    'invalid_request',
    'This sign-in has expired; start again from the application.',
    {},
    currentStep(uid),
  );

export const pageNotFound = () =>
  new AppError(
    404,
    'not_found',
    'There is no page at this address. Check the link, or start from your account.',
    {},
    ACCOUNT,
  );

export const retryStep = currentStep;
export const WAY_TO_ACCOUNT = ACCOUNT;
