import { AppError } from '../../shared/http/errors.ts';
import { ApiValidationError } from '../apis/api-service.ts';
import { ClientValidationError } from '../clients/client-service.ts';
import { RoleNotFoundError, RoleValidationError } from '../roles/role-service.ts';

/** What the services refuse, as the admin API answers it: invalid input 400, a missing name 404. */
export function asAdminError(error: unknown): unknown {
  if (
    error instanceof ClientValidationError ||
    error instanceof ApiValidationError ||
    error instanceof RoleValidationError
  )
    return new AppError(
      /already exists/.test(error.message) ? 409 : 400,
      /already exists/.test(error.message) ? 'conflict' : 'invalid_request',
      error.message,
    );
  if (error instanceof RoleNotFoundError) return new AppError(404, 'not_found', error.message);
  return error;
}

export const conflict = (message: string) => new AppError(409, 'conflict', message);
