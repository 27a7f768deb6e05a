import type { StepId } from '../../../src/contract';

/** One title per step the server sends: keyed by the contract's StepId, so the compiler keeps them in step. */
export const STEP_TITLES: Record<StepId, string> = {
  domains: 'Pre-defined domains',
  'secret-format': 'Client secret format',
  features: 'Features',
  tenant: 'Tenant',
  token: 'Sign-in with the client secret',
  roles: 'Application permissions',
  'test-mailbox': 'Test mailbox',
  'mailbox-calendar': 'Test mailbox: calendar',
  'mailbox-events': 'Test mailbox: events',
  'mailbox-inbox': 'Test mailbox: inbox',
  'access-policy': 'Access policy',
};
