// The vocabulary values are checked with: the patterns (depending on nothing) and the document DSL
// (depending only on action/, for `show`), below every other folder but action/.
export {
  ANY_TEXT,
  APP_NAME,
  DEPLOYMENT_ID,
  FREE_TEXT,
  HAPROXY_NAME,
  HOST_PATH,
  IMAGE_REF,
  NGINX_KEY,
  URL_PATH,
  VERSION,
} from './patterns';
export { docField, documentPath, documentProblems, type DocumentNames } from './document';
