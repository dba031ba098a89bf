/**
 * The vocabulary every value is checked with: app names, versions, image references, paths,
 * nginx keys and HAProxy names. It depends on nothing, so that inputs, hosts and runtimes all check a value the
 * same way (an input is refused with the pattern a host's state is read back with).
 */

export const APP_NAME = /^[a-z][a-z0-9-]{0,39}$/;
export const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** registry/name[:tag][@sha256:digest] — no spaces, no shell metacharacters. */
export const IMAGE_REF =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
export const URL_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;
/** A path on the host: absolute, or relative to the SSH user's home; no `..` segments. */
export const HOST_PATH = /^(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/+@-]+$/;
/** One or more nginx variables and plain characters, e.g. `$remote_addr` or `$cookie_user$remote_addr`. */
export const NGINX_KEY = /^(?:\$[a-z_][a-z0-9_]*|[A-Za-z0-9_.:-])+$/;
/**
 * An HAProxy proxy or server name as HAProxy's configuration allows it (letters, digits and
 * `_ . : -`): never a space or a `;`, which its runtime API reads as separators.
 */
export const HAPROXY_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** One line of free text (a reason, a trigger): no control characters but tab, as it lands in state files, issues and messages. */
// eslint-disable-next-line no-control-regex
export const FREE_TEXT = /^[^\0-\x08\x0a-\x1f\x7f]*$/;
/** Any text, new lines included: for a value checked elsewhere (a host by parseTarget), or of any form (a label). */
export const ANY_TEXT = /^[\s\S]*$/;
/** A GitHub deployment id. */
export const DEPLOYMENT_ID = /^\d{1,20}$/;
