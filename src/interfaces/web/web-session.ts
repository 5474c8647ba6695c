import type { Principal, Role } from '../../app/principal.ts';

/**
 * The signed-in person behind a dashboard request. Pages act through the same use cases as the
 * API with `principal`, so the dashboard can never grant what the app layer refuses.
 */
export interface WebSession {
  readonly principal: Principal;
  /** What the header shows: the user's email, or the API key's principal for a key login. */
  readonly display: string;
  /** Per-session token every form and mutation must echo (synchroniser-token CSRF defence). */
  readonly csrf: string;
  readonly session_id: string;
}

/** Everyone who may open the dashboard: agents are machines and use the API only. */
export const PEOPLE: readonly Role[] = ['admin', 'policy_admin', 'approver', 'finance', 'auditor'];
