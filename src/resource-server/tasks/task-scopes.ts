/**
 * The task API's scopes, in the one module the task API reads them from: a person's reach (`read`,
 * `write`, `admin`) and a service's (`work`). The issuer knows none of them; they reach it as any
 * API's do, registered with a sentence for the consent page (the demo set-up does it).
 */
export const TASK_SCOPES = {
  read: 'tasks:read',
  write: 'tasks:write',
  admin: 'tasks:admin',
  work: 'tasks:work',
} as const;

/** The scopes as registered at the issuer: each with the sentence its consent page shows. */
export const TASK_API_SCOPE_DESCRIPTIONS = [
  { name: TASK_SCOPES.read, description: 'See your tasks' },
  { name: TASK_SCOPES.write, description: 'Create, change and complete your tasks' },
  { name: TASK_SCOPES.admin, description: 'Manage everyone’s tasks (administrators only)' },
  { name: TASK_SCOPES.work, description: 'Work on queued tasks as a service' },
];
