import { Button, Caption1, MessageBar, MessageBarActions, MessageBarBody, MessageBarTitle } from '@fluentui/react-components';
import { describeError } from '../api';

/** An error as a person reads it: the catalogue message, then what to do about it. */
export function ErrorBar({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  const { code, message, remedy } = describeError(error);
  return (
    <MessageBar intent="error" layout="multiline" data-code={code}>
      <MessageBarBody>
        <MessageBarTitle>{title ?? message}</MessageBarTitle>
        {title ? ` ${message}` : null}
        {remedy ? <div>{remedy}</div> : null}
        <Caption1>Code: {code}</Caption1>
      </MessageBarBody>
      {onRetry ? (
        <MessageBarActions>
          <Button onClick={onRetry}>Try again</Button>
        </MessageBarActions>
      ) : null}
    </MessageBar>
  );
}
