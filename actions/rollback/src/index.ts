import { action } from '@agent-loop/shared/action';
import { post, run } from './main';

void action.entry(run, () => post());
