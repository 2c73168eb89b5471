/**
 * The release record a run keeps: which environment, commit, tag, who and
 * which CI job. Flags win; otherwise the CI provider's variables say it.
 */
import type { Env } from "./io.js";
import type { Target } from "./transport/convexRun.js";

export type Release = {
  environment?: string;
  commit?: string;
  tag?: string;
  initiatedBy?: string;
  url?: string;
};

export type ReleaseFlags = { env?: string; commit?: string; tag?: string };

const first = (env: Env, names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== "");

/** The release record for a run started with these flags in this environment. */
export function releaseFrom(flags: ReleaseFlags, env: Env, target: Target): Release {
  const githubTag = env.GITHUB_REF_TYPE === "tag" ? env.GITHUB_REF_NAME : undefined;
  const githubUrl =
    env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
      : undefined;
  const release: Release = {
    environment: flags.env ?? environmentOf(target),
    commit:
      flags.commit ??
      first(env, ["GITHUB_SHA", "CI_COMMIT_SHA", "VERCEL_GIT_COMMIT_SHA", "CIRCLE_SHA1", "BITBUCKET_COMMIT", "BUILDKITE_COMMIT"]),
    tag: flags.tag ?? githubTag ?? first(env, ["CI_COMMIT_TAG", "CIRCLE_TAG", "BITBUCKET_TAG"]),
    initiatedBy: first(env, [
      "GITHUB_ACTOR",
      "GITLAB_USER_LOGIN",
      "VERCEL_GIT_COMMIT_AUTHOR_LOGIN",
      "CIRCLE_USERNAME",
      "BUILDKITE_BUILD_CREATOR",
      "USER",
      "USERNAME",
    ]),
    url: githubUrl ?? first(env, ["CI_JOB_URL", "CIRCLE_BUILD_URL", "BUILDKITE_BUILD_URL"]),
  };
  return Object.fromEntries(Object.entries(release).filter(([, v]) => v !== undefined)) as Release;
}

/** A name for the target when `--env` is not given. */
function environmentOf(target: Target): string | undefined {
  if (target.prod) return "production";
  if (target.previewName !== undefined) return `preview:${target.previewName}`;
  return target.deploymentName;
}
