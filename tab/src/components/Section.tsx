import { Card, makeStyles, Subtitle2, Text, tokens } from '@fluentui/react-components';
import { useId, type ReactNode } from 'react';

const useStyles = makeStyles({
  card: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalM, padding: tokens.spacingHorizontalL, minWidth: 0 },
  head: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'baseline',
    justifyContent: 'space-between',
    columnGap: tokens.spacingHorizontalM,
    rowGap: tokens.spacingVerticalXS,
  },
  title: { margin: 0 },
  desc: { color: tokens.colorNeutralForeground2 },
});

/** A titled card that is also a landmark region, so screen-reader users can jump between sections. */
export function Section({ title, description, actions, children }: { title: string; description?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  const s = useStyles();
  const id = useId();
  return (
    <Card className={s.card} role="region" aria-labelledby={id}>
      <div className={s.head}>
        <Subtitle2 as="h2" id={id} className={s.title}>
          {title}
        </Subtitle2>
        {actions}
      </div>
      {description ? <Text className={s.desc}>{description}</Text> : null}
      {children}
    </Card>
  );
}
