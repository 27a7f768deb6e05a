/**
 * One typed data model per card template (bot/cards/<Name>.json). Models carry display-ready
 * strings: the templates only bind, so every word a card shows is decided in views.ts from the
 * domain tables. Lists are cut by the builder (`more*` counts) to keep a card under the size limit.
 */

export type TextColor = 'default' | 'good' | 'warning' | 'attention' | 'accent';
export type ContainerStyle = 'emphasis' | 'good' | 'warning' | 'attention' | 'accent' | 'default';

export interface TestFailedModel {
  title: string;
  subtitle: string;
  /** What the failing step checked, in the server's words. */
  step: string;
  code: string;
  ranAt: string;
  message: string;
  remedy: string;
  otherIssues: Array<{ text: string }>;
  moreIssues: number;
  tabUrl: string;
}

export interface TestPassedModel {
  title: string;
  subtitle: string;
  summary: string;
  features: Array<{ label: string; status: string; color: TextColor }>;
  warnings: Array<{ text: string }>;
  moreWarnings: number;
  tabUrl: string;
}

export interface PermissionsMissingModel {
  title: string;
  subtitle: string;
  message: string;
  /** Comma-separated list for the fallback text. */
  missingText: string;
  features: Array<{ label: string; missing: string; granted: string }>;
  moreFeatures: number;
  remedy: string;
  /** Empty string when the portal links are unknown (the action is then left out). */
  apiPermissionsUrl: string;
  adminConsentUrl: string;
}

export interface DeadlineDigestModel {
  title: string;
  subtitle: string;
  headerStyle: ContainerStyle;
  what: string;
  countdowns: Array<{ days: string; label: string; color: TextColor }>;
  affectedText: string;
  kinds: Array<{ label: string; count: string }>;
  users: Array<{ name: string; detail: string }>;
  moreUsers: number;
  tabUrl: string;
}

export interface ReconnectNudgeModel {
  title: string;
  subtitle: string;
  when: string;
  stopsHeading: string;
  stops: Array<{ label: string }>;
  action: string;
  tabUrl: string;
}

export interface CheckDigestModel {
  title: string;
  subtitle: string;
  headerStyle: ContainerStyle;
  counts: Array<{ label: string; count: string }>;
  broke: Array<{ name: string; detail: string }>;
  moreBroke: number;
  recovered: Array<{ name: string; detail: string }>;
  moreRecovered: number;
  /** Empty string when nobody is left on Exchange. */
  exchangeText: string;
  tabUrl: string;
}

export interface HelpModel {
  title: string;
  subtitle: string;
  intro: string;
  /** Empty string for none. */
  note: string;
  commands: Array<{ name: string; description: string }>;
  commandList: string;
  tabUrl: string;
}

export interface WelcomeModel {
  title: string;
  subtitle: string;
  intro: string;
  /** What this chat will bring (alerts for admins, reminders for users). */
  receive: Array<{ text: string }>;
  receiveList: string;
  /** Empty string for none. */
  note: string;
  commands: Array<{ name: string; description: string }>;
  commandList: string;
  tabUrl: string;
}

export interface StatusModel {
  title: string;
  subtitle: string;
  total: string;
  needAction: string;
  needActionColor: TextColor;
  needActionText: string;
  kinds: Array<{ label: string; count: string }>;
  states: Array<{ label: string; count: string }>;
  deadlines: Array<{ text: string }>;
  serviceAccount: string;
  serviceAccountColor: TextColor;
  /** The reconnect campaign's funnel, one line per stage; empty when no campaign ran. */
  campaign: Array<{ label: string; count: string }>;
  /** Empty string for none: who cannot be reached and why. */
  campaignNote: string;
  tabUrl: string;
}

export interface ErrorModel {
  /** `attention` for errors, `warning` for advance notices (an expiring secret). */
  style: ContainerStyle;
  title: string;
  message: string;
  /** Empty string for none. */
  remedy: string;
  code: string;
  tabUrl: string;
}

export interface CardModels {
  TestFailed: TestFailedModel;
  TestPassed: TestPassedModel;
  PermissionsMissing: PermissionsMissingModel;
  DeadlineDigest: DeadlineDigestModel;
  ReconnectNudge: ReconnectNudgeModel;
  CheckDigest: CheckDigestModel;
  Help: HelpModel;
  Welcome: WelcomeModel;
  Status: StatusModel;
  Error: ErrorModel;
}
export type CardName = keyof CardModels;
export const CARD_NAMES: readonly CardName[] = [
  'TestFailed',
  'TestPassed',
  'PermissionsMissing',
  'DeadlineDigest',
  'ReconnectNudge',
  'CheckDigest',
  'Help',
  'Welcome',
  'Status',
  'Error',
];

/** Which model arrays the builder may shorten, and the counter that then says "and N more". */
export const TRIMMABLE: { [K in CardName]: Array<{ list: keyof CardModels[K]; more?: keyof CardModels[K] }> } = {
  TestFailed: [{ list: 'otherIssues', more: 'moreIssues' }],
  TestPassed: [{ list: 'warnings', more: 'moreWarnings' }],
  PermissionsMissing: [{ list: 'features', more: 'moreFeatures' }],
  DeadlineDigest: [{ list: 'users', more: 'moreUsers' }],
  ReconnectNudge: [],
  CheckDigest: [
    { list: 'broke', more: 'moreBroke' },
    { list: 'recovered', more: 'moreRecovered' },
  ],
  Help: [],
  Welcome: [],
  Status: [],
  Error: [],
};
