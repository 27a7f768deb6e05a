/**
 * One MSAL failure → one catalogue code (docs/errors.md). MSAL's own error names (codes for a
 * missing account, an unreachable authority, a state mismatch) are read here; everything Entra ID
 * said (AADSTS numbers, OAuth errors) goes to the one mapping, diagnoseTokenError in
 * src/domain/diagnosis.ts.
 */
import { AuthError, ClientConfigurationError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { aadstsNumber, diagnoseTokenError, type TokenErrorFacts } from '../domain/diagnosis';
import { AppError, type ErrorCode } from '../domain/errors';
import { scrubSecrets } from '../log';
import type { TimedNetworkClient } from './network';

const MSAL_RECONNECT_CODES = new Set(['no_tokens_found', 'refresh_token_expired', 'no_account_in_silent_request', 'no_account_found']);
const MSAL_UNREACHABLE_CODES = new Set(['network_error', 'endpoints_resolution_error', 'openid_config_error', 'token_parsing_error']);
const MSAL_STATE_CODES = new Set(['nonce_mismatch', 'state_mismatch', 'invalid_state']);

export interface MsalFailureContext {
  grant: NonNullable<TokenErrorFacts['grant']>;
  /** The network client of the failed operation: the HTTP status MSAL does not report. */
  network?: Pick<TimedNetworkClient, 'lastStatus' | 'unreachable'>;
}

/** The raw error stays in `detail` (scrubbed, never tokens). */
export function mapMsalError(err: unknown, ctx: MsalFailureContext): AppError {
  if (err instanceof AppError) return err;
  const status = ctx.network?.lastStatus;
  const unreachable = ctx.network?.unreachable ?? false;
  if (err instanceof AuthError) {
    const e = err as AuthError & { errorNo?: string | number; status?: number };
    const detail = {
      name: e.name,
      errorCode: e.errorCode,
      subError: e.subError || undefined,
      errorNo: e.errorNo,
      status: e.status ?? status,
      message: scrubSecrets(e.errorMessage ?? e.message ?? ''),
    };
    const httpStatus = e.status ?? (status !== undefined && status >= 400 ? status : undefined);
    let code: ErrorCode;
    if (MSAL_RECONNECT_CODES.has(e.errorCode)) code = 'REFRESH_TOKEN_REVOKED';
    else if (MSAL_UNREACHABLE_CODES.has(e.errorCode)) code = status === 429 ? 'THROTTLED' : 'GRAPH_UNAVAILABLE';
    else if (MSAL_STATE_CODES.has(e.errorCode)) code = 'AUTH_STATE_INVALID';
    else if (e instanceof ServerError || e instanceof InteractionRequiredAuthError) {
      code = diagnoseTokenError({
        error: e.errorCode,
        subError: e.subError || undefined,
        aadsts: aadstsNumber({ errorNo: e.errorNo, text: e.errorMessage }),
        status: httpStatus,
        unreachable,
        grant: ctx.grant,
      });
    } else if (e instanceof ClientConfigurationError) code = 'INTERNAL';
    else code = unreachable ? 'GRAPH_UNAVAILABLE' : 'INTERNAL';
    return new AppError(code, { detail });
  }
  if (unreachable) return new AppError('GRAPH_UNAVAILABLE', { detail: { message: scrubSecrets(String((err as Error)?.message ?? err)) } });
  return new AppError('INTERNAL', { detail: { message: scrubSecrets(String((err as Error)?.message ?? err)) } });
}
