import { Button, Caption1, Field, Input, makeStyles, MessageBar, MessageBarBody, Spinner, Tag, TagGroup, Text, tokens } from '@fluentui/react-components';
import { Add16Regular, Save20Regular } from '@fluentui/react-icons';
import { useEffect, useId, useState } from 'react';
import type { DomainsResponse } from '../../../src/contract';
import { isDnsName } from '../../../src/domain/formats';
import { describeError, type Api } from '../api';
import { ErrorBar } from '../components/ErrorBar';
import { Section } from '../components/Section';
import type { Resource } from '../useResource';

const useStyles = makeStyles({
  row: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalS, rowGap: tokens.spacingVerticalS, alignItems: 'flex-start' },
  input: { minWidth: '200px', flexGrow: 1, maxWidth: '420px' },
  tags: { flexWrap: 'wrap', rowGap: tokens.spacingVerticalS },
  muted: { color: tokens.colorNeutralForeground3 },
});

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function DomainsEditor({ api, domains, onSaved }: { api: Api; domains: Resource<DomainsResponse>; onSaved: () => void }) {
  const s = useStyles();
  const inputId = useId();
  const saved = domains.data?.domains ?? [];
  const [draft, setDraft] = useState<string[]>(saved);
  const [value, setValue] = useState('');
  const [inputError, setInputError] = useState<string>();
  const [saveError, setSaveError] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const [savedNote, setSavedNote] = useState(false);

  useEffect(() => {
    if (domains.data) setDraft(domains.data.domains);
  }, [domains.data]);

  const add = (raw: string): boolean => {
    const d = raw.trim().toLowerCase().replace(/\.$/, '');
    if (!d) return false;
    // Early feedback only; the server validates again with the same rule and has the last word.
    if (!isDnsName(d)) {
      setInputError(`“${raw.trim()}” is not a valid domain name (for example contoso.com).`);
      return false;
    }
    setInputError(undefined);
    setSavedNote(false);
    setDraft((list) => (list.includes(d) ? list : [...list, d]));
    return true;
  };

  const save = async () => {
    setSaving(true);
    setSaveError(undefined);
    setSavedNote(false);
    try {
      const res = await api.put<DomainsResponse>('/api/admin/domains', { domains: draft });
      domains.setData(res);
      setSavedNote(true);
      onSaved();
    } catch (e) {
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  };

  if (domains.error && !domains.data)
    return (
      <Section title="Mail domains">
        <ErrorBar error={domains.error} onRetry={() => void domains.reload()} />
      </Section>
    );

  const suggestions = (domains.data?.suggestions ?? []).filter((d) => !draft.includes(d));
  const dirty = !sameList(draft, saved);
  const saveProblem = saveError ? describeError(saveError) : undefined;

  return (
    <Section
      title="Mail domains"
      description="The mail domains Connection Center syncs. Define them before saving the service account; the test mailbox must be in one of them."
    >
      {!domains.data ? (
        <Spinner size="small" label="Loading domains…" labelPosition="after" />
      ) : (
        <>
          {draft.length === 0 ? (
            <Text className={s.muted}>No domains yet.</Text>
          ) : (
            <TagGroup className={s.tags} aria-label="Mail domains to sync" onDismiss={(_, d) => setDraft((list) => list.filter((x) => x !== d.value))}>
              {draft.map((d) => (
                <Tag key={d} value={d} dismissible dismissIcon={{ 'aria-label': `Remove ${d}` }} shape="circular">
                  {d}
                </Tag>
              ))}
            </TagGroup>
          )}
          <form
            className={s.row}
            onSubmit={(e) => {
              e.preventDefault();
              if (add(value)) setValue('');
            }}
          >
            <Field
              className={s.input}
              label={{ children: 'Add a domain', htmlFor: inputId }}
              validationMessage={inputError ?? (saveProblem ? `${saveProblem.message} ${saveProblem.remedy ?? ''}`.trim() : undefined)}
              validationState={inputError || saveProblem ? 'error' : 'none'}
            >
              <Input id={inputId} value={value} placeholder="contoso.com" onChange={(_, d) => setValue(d.value)} autoComplete="off" spellCheck={false} />
            </Field>
            <Button type="submit" icon={<Add16Regular />} style={{ marginTop: 26 }}>
              Add
            </Button>
          </form>
          {suggestions.length > 0 ? (
            <div className={s.row} role="group" aria-label="Verified domains of your tenant">
              <Caption1 className={s.muted} style={{ alignSelf: 'center' }}>
                Verified in your tenant:
              </Caption1>
              {suggestions.map((d) => (
                <Button key={d} size="small" shape="circular" icon={<Add16Regular />} aria-label={`Add suggested domain ${d}`} onClick={() => add(d)}>
                  {d}
                </Button>
              ))}
            </div>
          ) : null}
          <div className={s.row}>
            <Button appearance="primary" icon={saving ? <Spinner size="tiny" /> : <Save20Regular />} disabled={!dirty || saving} onClick={() => void save()}>
              Save domains
            </Button>
            {dirty ? (
              <Button appearance="subtle" disabled={saving} onClick={() => setDraft(saved)}>
                Undo changes
              </Button>
            ) : null}
          </div>
          {savedNote ? (
            <MessageBar intent="success" role="status">
              <MessageBarBody>Domains saved.</MessageBarBody>
            </MessageBar>
          ) : null}
        </>
      )}
    </Section>
  );
}
