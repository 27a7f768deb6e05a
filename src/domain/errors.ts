/**
 * The error catalogue: every stable code with its HTTP status, a safe message and a
 * remedy. The API envelope, test steps, connection errors, the tab and the bot cards all read it.
 * docs/errors.md is generated from this table (`npm run docs:errors`) and a test keeps them in step.
 */

export interface CatalogueEntry {
  status: number;
  message: string;
  remedy?: string;
}

export const ERROR_CATALOGUE = {
  INVALID_TOKEN: {
    status: 401,
    message: 'The access token is missing, malformed, expired or not meant for this app.',
    remedy: 'Sign in again; if this keeps happening, reopen the tab.',
  },
  ADMIN_ROLE_REQUIRED: {
    status: 403,
    message: 'This action needs the Connection Center administrator role.',
    remedy:
      'Ask a Global Administrator to assign you the ConnectionCenter.Admin app role in Entra ID (Enterprise applications → Connection Center → Users and groups).',
  },
  VALIDATION_FAILED: {
    status: 400,
    message: 'The request is not valid.',
    remedy: 'Correct the field named in the message and try again.',
  },
  NOT_FOUND: { status: 404, message: 'Nothing was found at this address.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this address.' },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    message: 'The request body is too large.',
    remedy: 'Send a smaller body; split large imports into several files.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request body has an unsupported content type.',
    remedy: 'Send application/json (or text/csv where the route says so).',
  },
  CSRF_REJECTED: {
    status: 403,
    message: 'The request did not carry this session’s anti-forgery token.',
    remedy: 'Reload the page and try again.',
  },
  AUTH_STATE_INVALID: {
    status: 400,
    message: 'This sign-in link is unknown, expired or was already used.',
    remedy: 'Close this window and click Connect Office 365 again.',
  },
  AUTH_BROWSER_MISMATCH: {
    status: 403,
    message: 'This sign-in was not started in this browser (or it expired or was already used), so it was refused.',
    remedy: 'Start again from Connection Center in this browser; never finish a sign-in from a link someone sent you.',
  },
  APP_ID_URI_MISMATCH: {
    status: 400,
    message: 'Entra ID does not know the App ID URI api://<host of TAB_ENDPOINT>/<client id> (AADSTS500011): TAB_ENDPOINT does not match the app registration.',
    remedy:
      'Under Expose an API in the app registration set the Application ID URI to api://<host[:port] of TAB_ENDPOINT>/<client id>, or set TAB_ENDPOINT to the address the app is registered with (with the sandbox tenant: restart npm start after changing TAB_ENDPOINT).',
  },
  RATE_LIMITED: {
    status: 429,
    message: 'Too many sign-in requests came from your network address.',
    remedy: 'Wait a minute, then try again.',
  },
  ACCOUNT_MISMATCH: {
    status: 403,
    message: 'You consented with a different account from the one signed in to Teams.',
    remedy: 'Click Connect Office 365 again and pick the account you are signed in to Teams with.',
  },
  NOT_CONNECTED: {
    status: 409,
    message: 'You have no Microsoft Graph connection to test yet.',
    remedy: 'Click Connect Office 365 first.',
  },
  CHECK_ALREADY_RUNNING: {
    status: 409,
    message: 'A health check of every connection is already running for your organisation.',
    remedy: 'Wait for it to finish; its progress shows under Health checks.',
  },
  SERVICE_ACCOUNT_NOT_CONFIGURED: {
    status: 409,
    message: 'No service account is configured for this tenant.',
    remedy: 'Fill in the service account form (tenant, client id, secret value, test mailbox) and save it.',
  },
  DOMAINS_NOT_PREDEFINED: {
    status: 409,
    message: 'Mail domains must be pre-defined before the service account can be saved.',
    remedy: 'Add the mail domains to sync under Domains, then save the service account again.',
  },
  TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED: {
    status: 400,
    message: 'The test mailbox is not in one of the pre-defined mail domains.',
    remedy: 'Use a test mailbox in a pre-defined domain, or add its domain under Domains first.',
  },
  SECRET_ID_NOT_VALUE: {
    status: 400,
    message: 'The client secret looks like the Secret ID, not the Secret Value.',
    remedy:
      'In Entra ID open App registrations → your app → Certificates & secrets, create a new client secret and copy its Value column (shown only once, right after creation), not the Secret ID.',
  },
  SECRET_EXPIRED: {
    status: 400,
    message: 'The client secret has expired.',
    remedy: 'Create a new client secret under Certificates & secrets, paste its Value here and note its expiry date.',
  },
  APP_NOT_FOUND_IN_TENANT: {
    status: 400,
    message: 'No application with this client id exists in that tenant.',
    remedy: 'Copy the Application (client) ID from the app registration’s Overview page and check the tenant is the one the app was registered in.',
  },
  TENANT_NOT_FOUND: {
    status: 400,
    message: 'The tenant could not be found.',
    remedy: 'Use the Directory (tenant) ID from the app registration’s Overview page, or a verified domain of your tenant.',
  },
  ADMIN_CONSENT_MISSING: {
    status: 400,
    message: 'The app has no application permissions granted: admin consent is missing.',
    remedy: 'In API permissions add the Microsoft Graph application permissions and click “Grant admin consent for <tenant>”.',
  },
  PERMISSION_MISSING: {
    status: 400,
    message: 'A permission an enabled feature needs is not granted.',
    remedy: 'Add the missing Microsoft Graph application permissions under API permissions and grant admin consent again.',
  },
  ACCESS_DENIED: {
    status: 403,
    message: 'Microsoft Graph denied access to the mailbox (“Access is denied”).',
    remedy: 'Check the permissions are of type Application (not Delegated) and that admin consent was granted.',
  },
  ACCESS_POLICY_DENIED: {
    status: 403,
    message: 'The mailbox is outside the application access policy.',
    remedy: 'Add the mailbox to the mail-enabled security group of the application access policy (or the RBAC management scope), or use a mailbox inside it.',
  },
  ACCESS_POLICY_NOT_RESTRICTING: {
    status: 200,
    message: 'The out-of-scope mailbox was reachable: the access policy does not restrict the app.',
    remedy:
      'Create an application access policy (New-ApplicationAccessPolicy -AccessRight RestrictAccess) for the app, or remove the tenant-wide grant if you use RBAC for Applications.',
  },
  MAILBOX_NOT_REST_ENABLED: {
    status: 404,
    message: 'The mailbox is not enabled for the REST API (inactive, soft-deleted, on-premises or unlicensed).',
    remedy: 'Use an active Exchange Online mailbox with a license, or move the mailbox to Exchange Online.',
  },
  TEST_ACCOUNT_NOT_FOUND: {
    status: 404,
    message: 'The test mailbox does not exist in the tenant.',
    remedy: 'Enter the user principal name of an existing mailbox in a pre-defined domain.',
  },
  TASK_SYNC_UNSUPPORTED_FOR_SERVICE_ACCOUNT: {
    status: 400,
    message: 'Task Sync is not supported through the service account.',
    remedy: 'Turn Task Sync off for the service account; users connect tasks with Connect Office 365.',
  },
  USER_CONSENT_REQUIRED: {
    status: 403,
    message: 'Consent to the requested permissions was not given.',
    remedy: 'Click Connect Office 365 again and accept the permissions on the consent page.',
  },
  ADMIN_APPROVAL_REQUIRED: {
    status: 403,
    message: 'Your organisation requires an administrator to approve this app.',
    remedy: 'Ask an administrator to grant tenant-wide admin consent for Connection Center, then connect again.',
  },
  REFRESH_TOKEN_REVOKED: {
    status: 401,
    message: 'The Microsoft 365 sign-in for Connection Center was revoked or has expired.',
    remedy: 'Click Connect Office 365 to reconnect.',
  },
  MFA_OR_CONDITIONAL_ACCESS: {
    status: 403,
    message: 'Multi-factor authentication or a Conditional Access policy blocked the connection.',
    remedy: 'Reconnect and complete the multi-factor prompt; if it is blocked by policy, ask your administrator to allow Connection Center.',
  },
  THROTTLED: {
    status: 429,
    message: 'Microsoft Graph is throttling requests for this mailbox; the check will be retried.',
    remedy: 'Wait a few minutes and test again; nothing is broken.',
  },
  GRAPH_UNAVAILABLE: {
    status: 503,
    message: 'Microsoft Graph or Entra ID could not be reached.',
    remedy: 'Try again in a few minutes; the connection itself was not changed.',
  },
  STORE_UNAVAILABLE: {
    status: 503,
    message: 'The data store could not be reached.',
    remedy: 'Try again in a minute; nothing was changed. If it keeps failing, an operator should check the database named by DATA_STORE.',
  },
  REACH_PERMISSION_MISSING: {
    status: 403,
    message: 'Connection Center may not install its app for users: the application permission TeamsAppInstallation.ReadWriteSelfForUser.All is not granted.',
    remedy:
      'Add the Microsoft Graph application permission TeamsAppInstallation.ReadWriteSelfForUser.All to the Connection Center app and grant admin consent for your organisation.',
  },
  REACH_APP_NOT_IN_CATALOG: {
    status: 404,
    message: 'The Connection Center app was not found in your organisation’s Teams app catalog.',
    remedy:
      'Publish the Connection Center app to your organisation in the Teams admin center (or open it once in Teams yourself), or grant AppCatalog.Read.All so it can be looked up.',
  },
  REACH_APP_BLOCKED: {
    status: 403,
    message: 'A Teams app permission policy blocks the Connection Center app for this user.',
    remedy: 'In the Teams admin center, allow the Connection Center app in the app permission policy assigned to these users.',
  },
  REACH_NO_TEAMS_LICENSE: {
    status: 404,
    message: 'The user has no Microsoft Teams licence, so the bot cannot be installed for them.',
    remedy: 'Assign these users a licence that includes Microsoft Teams, or tell them another way (email) to open Connection Center.',
  },
  REACH_BOT_REMOVED: {
    status: 409,
    message: 'The user removed the Connection Center app from Teams; it is not installed again against their will.',
    remedy: 'Reach these users another way (email), or ask them to add the Connection Center app in Teams again.',
  },
  CAMPAIGN_STATE_CONFLICT: {
    status: 409,
    message: 'The reconnect campaign is not in a state that allows this action.',
    remedy: 'Start the campaign first; pause only a running campaign and resume only a paused one.',
  },
  INTERNAL: { status: 500, message: 'Something went wrong on our side.', remedy: 'Try again; if it keeps failing, contact your administrator.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, value);
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  remedy?: string;
}

/** The error every layer throws; the API turns it into `{ error: { code, message, remedy } }`. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly remedy?: string;
  /** Detail for the log only; never sent to a client. */
  readonly detail?: unknown;

  constructor(code: ErrorCode, options: { message?: string; remedy?: string; detail?: unknown; status?: number } = {}) {
    const entry: CatalogueEntry = ERROR_CATALOGUE[code];
    super(options.message ?? entry.message);
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? entry.status;
    this.remedy = options.remedy ?? entry.remedy;
    this.detail = options.detail;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.remedy ? { remedy: this.remedy } : {}) };
  }
}

/** The remedy for a code, made specific where the context allows (e.g. the tenant's admin-consent link). */
export function remedyWith(code: ErrorCode, context: { adminConsentUrl?: string } = {}): string | undefined {
  if (code === 'ADMIN_APPROVAL_REQUIRED' && context.adminConsentUrl) {
    return `Ask an administrator to grant tenant-wide consent for Connection Center at ${context.adminConsentUrl}, then connect again.`;
  }
  if (code === 'REACH_PERMISSION_MISSING' && context.adminConsentUrl) {
    return `${ERROR_CATALOGUE.REACH_PERMISSION_MISSING.remedy} Consent here: ${context.adminConsentUrl}`;
  }
  const entry: CatalogueEntry = ERROR_CATALOGUE[code];
  return entry.remedy;
}

/** A catalogue entry as a body, optionally with a more specific message / remedy. */
export function errorBody(code: ErrorCode, message?: string, remedy?: string): ErrorBody {
  const entry: CatalogueEntry = ERROR_CATALOGUE[code];
  const r = remedy ?? entry.remedy;
  return { code, message: message ?? entry.message, ...(r ? { remedy: r } : {}) };
}
