import {
  Button,
  Caption1,
  Checkbox,
  Field,
  Input,
  Label,
  makeStyles,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  Text,
  tokens,
} from '@fluentui/react-components';
import { Beaker20Regular, Delete20Regular, Save20Regular } from '@fluentui/react-icons';
import { useEffect, useId, useState, type FormEvent } from 'react';
import type { ServiceAccountInput, ServiceAccountResponse, ServiceAccountTestResponse, ServiceAccountView, TestStepView } from '../../../src/contract';
import { ERROR_CATALOGUE } from '../../../src/domain/errors';
import { APPLICATION_ROLES, FEATURE_LABELS, FEATURES, type Feature } from '../../../src/domain/features';
import { isDnsName, isGuid } from '../../../src/domain/formats';
import { describeError, type Api } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorBar } from '../components/ErrorBar';
import { Section } from '../components/Section';
import { StatusIcon, STATUS_TEXT } from '../components/StatusIcon';
import { formatDateTime } from '../format';
import { STEP_TITLES } from './stepTitles';
import type { Resource } from '../useResource';

type FieldName = 'tenant' | 'clientId' | 'clientSecret' | 'secretExpiresAt' | 'testAccount' | 'outOfScopeAccount' | 'features';
type Errors = Partial<Record<FieldName, string>>;

interface FormState {
  tenant: string;
  clientId: string;
  clientSecret: string;
  secretExpiresAt: string;
  testAccount: string;
  outOfScopeAccount: string;
  features: Feature[];
}

const MAILBOX = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Features the service account can serve at all (the matrix says which are app-only capable). */
const APP_CAPABLE = FEATURES.filter((f) => APPLICATION_ROLES[f] !== null);

/** Which field a server error belongs to, so it shows beside that field. */
const CODE_FIELDS: Partial<Record<string, FieldName>> = {
  SECRET_ID_NOT_VALUE: 'clientSecret',
  SECRET_EXPIRED: 'clientSecret',
  TENANT_NOT_FOUND: 'tenant',
  APP_NOT_FOUND_IN_TENANT: 'clientId',
  TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED: 'testAccount',
  TEST_ACCOUNT_NOT_FOUND: 'testAccount',
  MAILBOX_NOT_REST_ENABLED: 'testAccount',
  TASK_SYNC_UNSUPPORTED_FOR_SERVICE_ACCOUNT: 'features',
};
const FIELD_NAMES: FieldName[] = ['tenant', 'clientId', 'clientSecret', 'secretExpiresAt', 'testAccount', 'outOfScopeAccount', 'features'];

function fromView(v: ServiceAccountView | null): FormState {
  return {
    tenant: v?.tenant ?? '',
    clientId: v?.clientId ?? '',
    clientSecret: '',
    secretExpiresAt: v?.secretExpiresAt ? v.secretExpiresAt.slice(0, 10) : '',
    testAccount: v?.testAccount ?? '',
    outOfScopeAccount: v?.outOfScopeAccount ?? '',
    features: v?.features ?? [...APP_CAPABLE],
  };
}

function toInput(f: FormState): ServiceAccountInput {
  return {
    tenant: f.tenant.trim(),
    clientId: f.clientId.trim(),
    // Blank keeps the stored secret: the API never returns it, so the field is write-only.
    ...(f.clientSecret ? { clientSecret: f.clientSecret } : {}),
    ...(f.secretExpiresAt ? { secretExpiresAt: f.secretExpiresAt } : {}),
    testAccount: f.testAccount.trim(),
    ...(f.outOfScopeAccount.trim() ? { outOfScopeAccount: f.outOfScopeAccount.trim() } : {}),
    features: f.features,
  };
}

function validate(f: FormState, stored: ServiceAccountView | null): Errors {
  const e: Errors = {};
  const tenant = f.tenant.trim();
  if (!tenant) e.tenant = 'Enter the Directory (tenant) ID or a verified domain of your tenant.';
  else if (!isGuid(tenant) && !isDnsName(tenant)) e.tenant = 'The tenant must be a GUID (Directory (tenant) ID) or a domain such as contoso.com.';
  const clientId = f.clientId.trim();
  if (!clientId) e.clientId = 'Enter the Application (client) ID.';
  else if (!isGuid(clientId)) e.clientId = 'The Application (client) ID is a GUID, for example 00000000-0000-0000-0000-000000000000.';
  if (!f.clientSecret && !stored?.secretHint) e.clientSecret = 'Enter the client secret’s Value.';
  // A stored secret belongs to the stored app registration only.
  else if (!f.clientSecret && stored && stored.clientId !== clientId)
    e.clientSecret = 'Enter the Value of a secret of this app registration: the client id changed.';
  else if (isGuid(f.clientSecret)) e.clientSecret = `${ERROR_CATALOGUE.SECRET_ID_NOT_VALUE.message} ${ERROR_CATALOGUE.SECRET_ID_NOT_VALUE.remedy}`;
  const test = f.testAccount.trim();
  if (!test) e.testAccount = 'Enter the test mailbox (a user principal name such as someone@contoso.com).';
  else if (!MAILBOX.test(test)) e.testAccount = 'The test mailbox must look like someone@contoso.com.';
  const out = f.outOfScopeAccount.trim();
  if (out && !MAILBOX.test(out)) e.outOfScopeAccount = 'The out-of-scope mailbox must look like someone@contoso.com.';
  else if (out && out.toLowerCase() === test.toLowerCase()) e.outOfScopeAccount = 'Use a different mailbox from the test mailbox.';
  if (f.features.length === 0) e.features = 'Enable at least one feature.';
  return e;
}

/** Put a server error beside the field it is about; anything else goes above the buttons. */
function placeError(err: unknown): { field?: FieldName; text: string } {
  const { code, message, remedy } = describeError(err);
  const text = remedy ? `${message} ${remedy}` : message;
  const byCode = CODE_FIELDS[code];
  if (byCode) return { field: byCode, text };
  if (code === 'VALIDATION_FAILED') {
    const field = FIELD_NAMES.find((n) => new RegExp(`\\b${n}\\b`).test(message));
    if (field) return { field, text: message };
  }
  return { text };
}

const useStyles = makeStyles({
  form: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(260px, 1fr))', columnGap: tokens.spacingHorizontalL, rowGap: tokens.spacingVerticalM },
  wide: { gridColumn: '1 / -1' },
  checks: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalL, marginLeft: `calc(-1 * ${tokens.spacingHorizontalS})` },
  actions: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalS, rowGap: tokens.spacingVerticalS, gridColumn: '1 / -1' },
  list: { listStyleType: 'none', margin: 0, padding: 0, display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalM },
  step: { display: 'flex', columnGap: tokens.spacingHorizontalS, alignItems: 'flex-start' },
  stepText: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalXXS, minWidth: 0, overflowWrap: 'anywhere' },
  muted: { color: tokens.colorNeutralForeground3 },
  error: { color: tokens.colorPaletteRedForeground1 },
  remedy: { color: tokens.colorNeutralForeground2 },
  results: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalM },
});

function StepItem({ step }: { step: TestStepView }) {
  const s = useStyles();
  return (
    <li className={s.step} data-status={step.status} data-step={step.id}>
      <StatusIcon status={step.status} />
      <span className={s.stepText}>
        <Text weight="semibold">
          {STEP_TITLES[step.id] ?? step.id} — {STATUS_TEXT[step.status].toLowerCase()}
        </Text>
        <Text>{step.message}</Text>
        {step.remedy ? (
          <Text className={s.remedy}>
            <Text weight="semibold">How to fix: </Text>
            {step.remedy}
          </Text>
        ) : null}
        {step.code ? <Caption1 className={s.muted}>Code: {step.code}</Caption1> : null}
      </span>
    </li>
  );
}

export function TestResults({ result, tested }: { result: ServiceAccountTestResponse; tested?: readonly string[] }) {
  const s = useStyles();
  const failed = result.steps.filter((x) => x.status === 'failed').length;
  const warnings = result.steps.filter((x) => x.status === 'warning').length;
  return (
    <div className={s.results} role="region" aria-label="Test results" aria-live="polite">
      <MessageBar intent={result.ok ? (warnings ? 'warning' : 'success') : 'error'} layout="multiline">
        <MessageBarBody>
          <MessageBarTitle>
            {result.ok
              ? warnings
                ? `The test passed with ${warnings} warning${warnings > 1 ? 's' : ''}.`
                : 'The test passed.'
              : `The test failed: ${failed} step${failed > 1 ? 's' : ''} need${failed > 1 ? '' : 's'} fixing.`}
          </MessageBarTitle>
          {result.ok ? ' You can save this configuration.' : ' Fix what is listed below, then run the test again.'} Ran {formatDateTime(result.ranAt)}.
        </MessageBarBody>
      </MessageBar>
      <ol className={s.list} aria-label="Test steps">
        {result.steps.map((step, i) => (
          <StepItem key={`${step.id}-${i}`} step={step} />
        ))}
      </ol>
      <div>
        <Text weight="semibold">Features with this configuration</Text>
        <ul className={s.list} style={{ marginTop: 8, rowGap: 4 }}>
          {FEATURES.map((f) => {
            const m = result.features[f];
            // Only the features this configuration enables: the others were not part of the test.
            if (!m || (tested && !tested.includes(f))) return null;
            return (
              <li key={f} className={s.step}>
                <StatusIcon status={m.available ? 'passed' : 'failed'} label={m.available ? 'Available' : 'Unavailable'} />
                <Text>
                  {FEATURE_LABELS[f]}
                  {m.available
                    ? ' — available'
                    : m.missing.length
                      ? ` — missing ${m.missing.join(', ')}`
                      : m.required.length === 0
                        ? ' — not supported through the service account'
                        : ' — unavailable'}
                </Text>
              </li>
            );
          })}
        </ul>
      </div>
    </div>
  );
}

export function ServiceAccountForm({ api, account, onChanged }: { api: Api; account: Resource<ServiceAccountResponse>; onChanged: () => void }) {
  const s = useStyles();
  const stored = account.data?.serviceAccount ?? null;
  const featuresId = useId();
  const featuresErrorId = useId();
  const [form, setForm] = useState<FormState>(() => fromView(stored));
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<unknown>();
  const [busy, setBusy] = useState<'test' | 'save' | 'delete' | null>(null);
  const [result, setResult] = useState<ServiceAccountTestResponse>();
  const [tested, setTested] = useState<string[]>();
  const [saved, setSaved] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);

  useEffect(() => {
    if (account.data) setForm(fromView(account.data.serviceAccount));
  }, [account.data]);

  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    setErrors((e) => ({ ...e, [key]: undefined }));
    setSaved(false);
  };

  const act = async (what: 'test' | 'save', e?: FormEvent) => {
    e?.preventDefault();
    const found = validate(form, stored);
    setErrors(found);
    setFormError(undefined);
    setSaved(false);
    if (Object.values(found).some(Boolean)) return;
    setBusy(what);
    try {
      if (what === 'test') {
        setResult(undefined);
        const input = toInput(form);
        setResult(await api.post<ServiceAccountTestResponse>('/api/admin/service-account/test', input));
        setTested([...input.features]);
      } else {
        const res = await api.put<ServiceAccountResponse>('/api/admin/service-account', toInput(form));
        account.setData(res);
        setSaved(true);
      }
      onChanged();
    } catch (err) {
      const placed = placeError(err);
      if (placed.field) setErrors((x) => ({ ...x, [placed.field as FieldName]: placed.text }));
      else setFormError(err);
    } finally {
      setBusy(null);
    }
  };

  const remove = async () => {
    setBusy('delete');
    setFormError(undefined);
    try {
      await api.delete('/api/admin/service-account');
      account.setData({ serviceAccount: null });
      setResult(undefined);
      onChanged();
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(null);
      setConfirmDelete(false);
    }
  };

  if (account.error && !account.data)
    return (
      <Section title="Service account">
        <ErrorBar error={account.error} onRetry={() => void account.reload()} />
      </Section>
    );

  const hint = stored?.secretHint;
  const field = (name: FieldName) => ({ validationMessage: errors[name], validationState: errors[name] ? ('error' as const) : ('none' as const) });

  return (
    <Section
      title="Service account"
      description="An Entra app registration with Microsoft Graph application permissions, used to sync mailboxes without each user’s consent. Run the test first, then save."
    >
      {!account.data ? (
        <Spinner size="small" label="Loading the service account…" labelPosition="after" />
      ) : (
        <form className={s.form} onSubmit={(e) => void act('save', e)} noValidate aria-label="Service account">
          <Field label="Tenant" required hint="Directory (tenant) ID or a verified domain, from the app registration’s Overview page." {...field('tenant')}>
            <Input
              value={form.tenant}
              onChange={(_, d) => set('tenant', d.value)}
              placeholder="contoso.onmicrosoft.com"
              autoComplete="off"
              spellCheck={false}
            />
          </Field>
          <Field label="Application (client) ID" required hint="A GUID, from the app registration’s Overview page." {...field('clientId')}>
            <Input
              value={form.clientId}
              onChange={(_, d) => set('clientId', d.value)}
              placeholder="00000000-0000-0000-0000-000000000000"
              autoComplete="off"
              spellCheck={false}
            />
          </Field>
          <Field
            label="Client secret"
            required={!hint}
            hint="Paste the secret’s Value (shown only once when you create it under Certificates & secrets), not the Secret ID."
            {...field('clientSecret')}
          >
            <Input
              type="password"
              value={form.clientSecret}
              onChange={(_, d) => set('clientSecret', d.value)}
              placeholder={hint ? `•••• (saved, starts with ${hint})` : 'Secret Value'}
              autoComplete="new-password"
              spellCheck={false}
            />
          </Field>
          <Field
            label="Secret expiry date"
            hint="Shown next to the secret in Certificates & secrets; you are reminded before it expires."
            {...field('secretExpiresAt')}
          >
            <Input type="date" value={form.secretExpiresAt} onChange={(_, d) => set('secretExpiresAt', d.value)} />
          </Field>
          <Field
            label="Test mailbox"
            required
            hint="A mailbox in a pre-defined domain that the service account must be able to read."
            {...field('testAccount')}
          >
            <Input
              type="email"
              value={form.testAccount}
              onChange={(_, d) => set('testAccount', d.value)}
              placeholder="sync-test@contoso.com"
              autoComplete="off"
              spellCheck={false}
            />
          </Field>
          <Field
            label="Out-of-scope mailbox (optional)"
            hint="A mailbox your application access policy should deny. The test checks that the app really cannot read it, so you know access is restricted."
            {...field('outOfScopeAccount')}
          >
            <Input
              type="email"
              value={form.outOfScopeAccount}
              onChange={(_, d) => set('outOfScopeAccount', d.value)}
              placeholder="ceo@contoso.com"
              autoComplete="off"
              spellCheck={false}
            />
          </Field>
          <div className={s.wide} role="group" aria-labelledby={featuresId} aria-describedby={errors.features ? featuresErrorId : undefined}>
            <Label id={featuresId}>Features</Label>
            <div className={s.checks}>
              {FEATURES.map((f) => {
                const capable = APPLICATION_ROLES[f] !== null;
                return (
                  <Checkbox
                    key={f}
                    label={capable ? FEATURE_LABELS[f] : `${FEATURE_LABELS[f]} (not available)`}
                    checked={form.features.includes(f)}
                    // Left enabled only to let an admin untick it on an old configuration.
                    disabled={!capable && !form.features.includes(f)}
                    onChange={(_, d) => set('features', d.checked ? [...form.features, f] : form.features.filter((x) => x !== f))}
                  />
                );
              })}
            </div>
            <Caption1 className={s.muted}>
              {FEATURES.filter((f) => APPLICATION_ROLES[f] === null)
                .map((f) => FEATURE_LABELS[f])
                .join(', ')}{' '}
              can’t be done by the service account; users connect it themselves with Connect Office 365.
            </Caption1>
            {errors.features ? (
              <Text id={featuresErrorId} className={s.error} role="alert" block>
                {errors.features}
              </Text>
            ) : null}
          </div>
          {formError ? (
            <div className={s.wide}>
              <ErrorBar error={formError} />
            </div>
          ) : null}
          {saved ? (
            <MessageBar className={s.wide} intent="success" role="status">
              <MessageBarBody>Service account saved{stored ? ` by ${stored.updatedBy}, ${formatDateTime(stored.updatedAt)}` : ''}.</MessageBarBody>
            </MessageBar>
          ) : null}
          <div className={s.actions}>
            <Button
              type="button"
              icon={busy === 'test' ? <Spinner size="tiny" /> : <Beaker20Regular />}
              disabled={busy !== null}
              onClick={() => void act('test')}
            >
              Run test
            </Button>
            <Button type="submit" appearance="primary" icon={busy === 'save' ? <Spinner size="tiny" /> : <Save20Regular />} disabled={busy !== null}>
              Save
            </Button>
            {stored ? (
              <Button type="button" appearance="subtle" icon={<Delete20Regular />} disabled={busy !== null} onClick={() => setConfirmDelete(true)}>
                Remove service account
              </Button>
            ) : null}
          </div>
          {busy === 'test' ? (
            <div className={s.wide}>
              <Spinner size="small" label="Running the test against Microsoft 365…" labelPosition="after" />
            </div>
          ) : null}
          {result ? (
            <div className={s.wide}>
              <TestResults result={result} tested={tested} />
            </div>
          ) : null}
        </form>
      )}
      <ConfirmDialog
        open={confirmDelete}
        title="Remove the service account?"
        confirmLabel="Remove"
        busy={busy === 'delete'}
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => void remove()}
      >
        Connection Center forgets the client id and secret. Users covered by the service account stop syncing until they connect Office 365 themselves or you
        configure it again.
      </ConfirmDialog>
    </Section>
  );
}
