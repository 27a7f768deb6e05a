/** The tab titles every step the service-account test sends, and only those. */
import { STEP_IDS } from '../../src/contract';
import { STEP_TITLES } from '../../tab/src/admin/stepTitles';

test('the tab has a title for each step id of the contract and none for a step the server never sends', () => {
  expect(Object.keys(STEP_TITLES).sort()).toEqual([...STEP_IDS].sort());
  for (const id of STEP_IDS) expect(STEP_TITLES[id].trim()).not.toBe('');
});
