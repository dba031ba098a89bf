export const inputFields = {}; export const Outputs = {}; export async function run() {}
