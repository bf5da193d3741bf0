import type { Middleware } from 'koa';
import { AppError, classifyError } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { pageNotFound, WAY_TO_ACCOUNT } from './page-errors.ts';

const TITLES: Record<number, string> = {
  400: 'That did not work',
  403: 'Not allowed',
  404: 'Page not found',
  413: 'Too much data',
  415: 'That did not work',
  429: 'Too many attempts',
  503: 'Unavailable for a moment',
};

/**
 * A person in a browser never sees the JSON envelope: when the request prefers HTML, an error from
 * our routes becomes a page with the same status and the same safe message. API callers (JSON or
 * any type) still get the envelope from the request context.
 */
export function errorPages(pages: PageRenderer): Middleware<RequestState> {
  return async (ctx, next) => {
    try {
      await next();
      // No route answered: a person gets the same page as for any other refusal, with a way on.
      if (ctx.status === 404 && ctx.body == null && ctx.accepts('json', 'html') === 'html') throw pageNotFound();
    } catch (error) {
      if (ctx.accepts('json', 'html') !== 'html') throw error;
      // The sign-in's state is gone (it expired, or the cache lost it): say so, not "bad request".
      if ((error as { name?: unknown }).name === 'SessionNotFound') {
        pages.render(
          ctx,
          'message',
          {
            title: 'This sign-in has expired',
            paragraphs: [
              'It was open too long, or the server restarted it.',
              'Go back to the application you came from and sign in again.',
            ],
            link: WAY_TO_ACCOUNT,
          },
          400,
        );
        return;
      }
      const classified = classifyError(error);
      if (classified.unexpected) ctx.state.log.error({ err: error }, 'unhandled error');
      else if (classified.status === 503)
        ctx.state.log.warn({ err: error }, 'a dependency is unavailable; answered 503');
      ctx.set(classified.headers);
      const link = error instanceof AppError ? error.wayForward : undefined;
      const title = (error instanceof AppError ? error.pageTitle : undefined) ?? TITLES[classified.status];
      pages.render(
        ctx,
        'message',
        {
          title: title ?? 'Something went wrong',
          paragraphs: link ? [classified.message] : [classified.message, 'Go back and try again.'],
          link,
        },
        classified.status,
      );
    }
  };
}
