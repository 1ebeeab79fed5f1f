# swarm's side of a host: the bare mirror and the attempts' worktrees under DIR
# (docs/multihost.md). Sent whole with every call, as `sh -c SCRIPT swarm OP DIR ARG...`,
# so that a host needs nothing of swarm's installed. Answers are lines starting with
# `swarm-` on stdout; a failure exits non-zero with git's own words on stderr.
set -u
op=$1 dir=$2
shift 2
case $dir in
"~") dir=$HOME ;;
"~/"*) dir=$HOME/${dir#"~/"} ;;
/*) ;;
*) dir=$HOME/$dir ;;
esac
# One spelling of the directory for every call (a symlink in it would give worktree paths
# that do not match the watcher's).
[ -d "$dir" ] && dir=$(cd "$dir" && pwd -P)
repo=$dir/repo.git
wts=$dir/wt
# A worktree that lost its `.git` must not be taken for a repository above it (a home
# directory kept in git): git stops looking at the worktrees' directory.
export GIT_CEILING_DIRECTORIES=$wts
export LC_ALL=C GIT_TERMINAL_PROMPT=0 GIT_EDITOR=true
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_COMMON_DIR \
  GIT_CONFIG_PARAMETERS GIT_ALTERNATE_OBJECT_DIRECTORIES

# The branch a worktree of the mirror has checked out, one worktree path a line.
holders() {
  git -C "$repo" worktree list --porcelain |
    awk -v want="branch refs/heads/$1" '/^worktree /{w=substr($0,10)} $0==want{print w}'
}

case $op in
mirror)
  if [ ! -d "$repo" ]; then
    mkdir -p "$dir" || exit 1
    # Made aside and renamed, so that a call cut short leaves no half-made mirror. Every
    # ref update is logged: a branch the coordinator's copy replaces stays findable.
    tmp=$repo.new.$$
    git init -q --bare "$tmp" && git -C "$tmp" config core.logAllRefUpdates always &&
      mv "$tmp" "$repo" 2>/dev/null || { rm -rf "$tmp"; [ -d "$repo" ] || exit 1; }
    dir=$(cd "$dir" && pwd -P)
    repo=$dir/repo.git
  fi
  # swarm's own files stay out of an agent's `git add -A` in every worktree.
  mkdir -p "$repo/info" &&
    printf '%s\n' '# swarm: its own files (sentinels, .swarm/), never committed' '*.done' '/.swarm/' \
      >"$repo/info/exclude" || exit 1
  echo "swarm-dir $dir"
  ;;
start) # TASK ATTEMPT START: a worktree for the attempt, its branch reset to START
  branch=swarm/task/$1 wt=$wts/$1.$2 start=$3
  if [ -e "$wt/.git" ] && git -C "$wt" rev-parse -q --verify HEAD >/dev/null 2>&1; then
    # Made by an earlier call whose answer was lost: as it is, with the agent's work.
    echo "swarm-existing $wt $(git -C "$wt" rev-parse HEAD)"
    exit 0
  fi
  git -C "$repo" worktree prune || exit 1
  # A stale attempt holding the branch lets go of it where it stands: only its HEAD
  # changes, its files stay, and its agent can no longer move the branch.
  holders "$branch" | while IFS= read -r other; do
    git -C "$other" update-ref --no-deref -m "swarm: a newer attempt took the branch" \
      HEAD "$(git -C "$other" rev-parse HEAD)" || exit 1
  done || exit 1
  mkdir -p "$wts" && git -C "$repo" worktree add -q -B "$branch" "$wt" "$start" >&2 || exit 1
  echo "swarm-started $wt $start"
  ;;
commit) # WT TASK MESSAGE BASE: commit what the agent left, as swarm's Local::commit does
  wt=$1 branch=refs/heads/swarm/task/$2 msg=$3 base=$4
  cd "$wt" 2>/dev/null || { echo "$wt: no such worktree" >&2; exit 4; }
  head=$(git rev-parse -q --verify HEAD) || exit 1
  on=$(git symbolic-ref -q HEAD) || on=
  tip=$(git rev-parse -q --verify "$branch^{commit}") || tip=
  if [ -z "$on" ] && [ "$tip" = "$head" ]; then
    # Detached at the branch's tip: an earlier call committed and its answer was lost.
    git symbolic-ref HEAD "$branch" || exit 1
  elif [ "$on" != "$branch" ]; then
    echo "$wt is on ${on:-a detached HEAD}, not on $branch; nothing was committed" >&2
    exit 4
  fi
  # Not as :(exclude) pathspecs to add, which fails on a path ignored already; reset
  # leaves a path as the commit has it, tracked or not.
  git add -A -- . && git reset -q -- .swarm ':(glob)**/*.done' || exit 1
  tree=$(git write-tree) && was=$(git rev-parse "$head^{tree}") || exit 1
  made=0
  if [ "$tree" != "$was" ]; then
    git var GIT_AUTHOR_IDENT >/dev/null 2>&1 ||
      export GIT_AUTHOR_NAME=swarm GIT_AUTHOR_EMAIL=swarm@localhost
    git var GIT_COMMITTER_IDENT >/dev/null 2>&1 ||
      export GIT_COMMITTER_NAME=swarm GIT_COMMITTER_EMAIL=swarm@localhost
    new=$(git commit-tree "$tree" -p "$head" -m "$msg") &&
      git update-ref -m "swarm: committed" "$branch" "$new" "$head" || exit 1
    head=$new made=1
  fi
  changed=$made
  if [ "$made" = 0 ] && [ "$head" != "$base" ]; then
    # A base the host never got cannot be compared: the merge queue judges instead.
    if ! git cat-file -e "$base^{commit}" 2>/dev/null ||
      [ -n "$(git rev-list -n1 "$base..$head" --)" ]; then
      changed=1
    fi
  fi
  # Detached where it is, so that the branch is free for the coordinator's next push.
  git update-ref --no-deref -m "swarm: committed" HEAD "$head" || exit 1
  echo "swarm-committed $head $changed"
  ;;
list)
  if [ -d "$wts" ]; then
    for d in "$wts"/*; do
      [ -d "$d" ] && echo "swarm-attempt ${d##*/}"
    done
  fi
  echo "swarm-listed"
  ;;
remove) # NAME force|keep
  wt=$wts/$1
  if [ ! -e "$wt" ]; then
    git -C "$repo" worktree prune || exit 1
    echo "swarm-removed"
    exit 0
  fi
  if [ "$2" != force ] && [ -n "$(git -C "$wt" status --porcelain --untracked-files=all)" ]; then
    echo "swarm-kept"
    exit 0
  fi
  head=$(git -C "$wt" rev-parse -q --verify HEAD) || head=
  if [ -n "$head" ] &&
    [ -z "$(git -C "$repo" for-each-ref --count=1 --format=x --contains "$head")" ]; then
    git -C "$repo" update-ref -m "swarm: kept from a removed attempt" \
      "refs/swarm/removed/$1" "$head" || exit 1
  fi
  git -C "$repo" worktree remove --force "$wt" >&2 || exit 1
  git -C "$repo" update-ref -d "refs/swarm/start/$1" 2>/dev/null
  echo "swarm-removed"
  ;;
prune)
  git -C "$repo" worktree prune || exit 1
  echo "swarm-pruned"
  ;;
scan)
  echo "swarm-dir $dir"
  [ -d "$wts" ] && find "$wts" -name '*.done' -type f 2>/dev/null
  echo "swarm-scanned"
  ;;
watch) # OLD_WATCHER_PID: one inotifywait for every worktree, until stdin closes
  mkdir -p "$wts" || exit 1
  dir=$(cd "$dir" && pwd -P)
  wts=$dir/wt
  echo "swarm-dir $dir"
  # The last connection's watcher may outlive it (its ssh was cut, not its host).
  if [ -n "${1:-}" ] && [ "$(ps -p "$1" -o comm= 2>/dev/null)" = inotifywait ]; then
    kill "$1" 2>/dev/null
  fi
  command -v inotifywait >/dev/null 2>&1 || {
    echo "swarm-no-inotify"
    exit 0
  }
  inotifywait -m -r -e close_write,moved_to,create --format 'ev %e %w%f' "$wts" 2>&1 &
  w=$!
  echo "swarm-watcher $w"
  # ssh closing the session ends the read, and the watcher with it. The watcher ending
  # alone ends the script, and the coordinator starts another.
  # (A background list's stdin is /dev/null, so the session's is passed as fd 3.)
  exec 3<&0
  (
    cat <&3 >/dev/null
    kill "$w" 2>/dev/null
  ) >/dev/null 2>&1 &
  exec 3<&-
  wait "$w"
  echo "swarm-watcher-ended"
  ;;
*)
  echo "unknown operation $op" >&2
  exit 2
  ;;
esac
