import { makeStyles, tokens } from '@fluentui/react-components';
import { CheckmarkCircle20Filled, DismissCircle20Filled, SubtractCircle20Regular, Warning20Filled } from '@fluentui/react-icons';
import type { StepStatus } from '../../../src/contract';

const useStyles = makeStyles({
  passed: { color: tokens.colorPaletteGreenForeground1, flexShrink: 0 },
  failed: { color: tokens.colorPaletteRedForeground1, flexShrink: 0 },
  warning: { color: tokens.colorPaletteDarkOrangeForeground1, flexShrink: 0 },
  skipped: { color: tokens.colorNeutralForeground3, flexShrink: 0 },
});

export const STATUS_TEXT: Record<StepStatus, string> = { passed: 'Passed', failed: 'Failed', warning: 'Warning', skipped: 'Skipped' };

/** Status icon with a text alternative: colour alone never carries the meaning. */
export function StatusIcon({ status, label }: { status: StepStatus; label?: string }) {
  const s = useStyles();
  const props = { 'aria-label': label ?? STATUS_TEXT[status], role: 'img' as const };
  switch (status) {
    case 'passed':
      return <CheckmarkCircle20Filled className={s.passed} {...props} />;
    case 'failed':
      return <DismissCircle20Filled className={s.failed} {...props} />;
    case 'warning':
      return <Warning20Filled className={s.warning} {...props} />;
    default:
      return <SubtractCircle20Regular className={s.skipped} {...props} />;
  }
}
