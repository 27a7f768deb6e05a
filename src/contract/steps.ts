/**
 * The service-account test as the admin sees it: produced by
 * src/graph, stored by src/store, shown by the tab and the bot. The step ids are a closed list so
 * every reader that names a step (the tab's titles, the bot's cards) is checked by the compiler.
 */
import type { Feature } from '../domain/features';

/** Every step the test reports, in the order it reports them. */
export const STEP_IDS = [
  'domains',
  'secret-format',
  'features',
  'tenant',
  'token',
  'roles',
  'test-mailbox',
  'mailbox-calendar',
  'mailbox-events',
  'mailbox-inbox',
  'access-policy',
] as const;
export type StepId = (typeof STEP_IDS)[number];

export type StepStatus = 'passed' | 'failed' | 'warning' | 'skipped';
export interface TestStep {
  id: StepId;
  status: StepStatus;
  code?: string;
  message: string;
  remedy?: string;
}
export interface FeatureMatrixEntry {
  required: string[];
  granted: string[];
  missing: string[];
  available: boolean;
}

/** One feature's outcome in a health check: ok, or the catalogue code that failed it. */
export interface FeatureResult {
  ok: boolean;
  code?: string;
}
/** By feature; a legacy (EWS) connection records under `viaServiceAccount` whether the service account reaches its mailbox. */
export type FeatureResults = Partial<Record<Feature | 'viaServiceAccount', FeatureResult>>;
