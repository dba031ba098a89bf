import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { deploy, type AppState, type HostSpec } from '@agent-loop/shared';
import { startLab, type Lab, type LabHost } from '../lab/index';
import { expect } from 'vitest';
import { deploySettings, labHosts } from './deploy-settings';
import { actLikeGitHub, refusedRequests } from './github-api';
import { startRecorder, type Recorder } from './recorder';

/** Set-up that several lab tests share. */

/** A lab whose hosts serve `version` through nginx: started, deployed with the blue-green procedure, site enabled. */
export async function startServingLab(
  version = 'v1',
  options: { hosts?: number } = {},
): Promise<{ lab: Lab; hosts: HostSpec[] }> {
  const lab = await startLab({ hosts: options.hosts ?? 2 });
  try {
    const hosts = labHosts(lab);
    const first = await deploy(hosts, deploySettings(lab, version));
    if (!first.ok) throw new Error(`the first deploy of ${version} failed: ${first.error}`);
    await lab.enableSite();
    return { lab, hosts };
  } catch (error) {
    await lab.stop();
    throw error;
  }
}

/** The state file the action keeps on a lab host, as it is on disk now. */
export function hostState(lab: Lab, host: LabHost = lab.hosts[0] as LabHost): AppState {
  return JSON.parse(readFileSync(`${host.stateDir}/${lab.app}/state.json`, 'utf8')) as AppState;
}

/**
 * known_hosts lines naming every lab host with a key that is not its own (the lab's client key):
 * what a reinstalled host, or someone in the middle, looks like to a checked connection.
 */
export function changedKnownHosts(lab: Lab): string {
  const [type, key] = readFileSync(`${lab.clientKeyPath}.pub`, 'utf8').trim().split(/\s+/);
  return lab.hosts.map((host) => `${host.knownHostsLine.split(' ')[0]} ${type} ${key}`).join('\n');
}

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** GitHub's API and a Slack webhook as loopback stand-ins, for the actions that announce what they did. */
export interface Announcers {
  github: Recorder;
  slack: Recorder;
  /** Closes both, after checking that every request sent to GitHub is one its OpenAPI description accepts. */
  close(): Promise<void>;
}

export async function startAnnouncers(): Promise<Announcers> {
  const github = await startRecorder();
  actLikeGitHub(github);
  const slack = await startRecorder();
  return {
    github,
    slack,
    async close() {
      try {
        expect(refusedRequests(github)).toEqual([]);
      } finally {
        await github.close();
        await slack.close();
      }
    },
  };
}
