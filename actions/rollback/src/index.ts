import { action } from '@agent-loop/shared';
import { post, run } from './main';

void action.entry(run, () => post());
