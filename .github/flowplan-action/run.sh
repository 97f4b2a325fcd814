#!/usr/bin/env bash
# The GitHub Action's logic (action.yml runs it). Kept in a file so tests can run it with a
# fake GITHUB_* environment.
#
# Inputs arrive only as environment variables (FLOWPLAN_*; FLOWPLAN_INPUTS is the action's whole
# `inputs` context as JSON, read with FLOWPLAN_PYTHON). Nothing is ever evaluated as shell, and
# the script fails closed: an input name it does not know, a command other than
# validate/plan/apply, or a value that could not be passed on safely (a control character, an
# option where a path belongs, a quote in `args`, an extra flowplan does not have, an
# environment name that is not one) stops it before flowplan runs. With FLOWPLAN_CHECK_ONLY=true
# it only checks; with FLOWPLAN_INSTALL=true it checks, then installs flowplan (FLOWPLAN_SOURCE,
# with the `extras` input) into the virtual environment FLOWPLAN_VENV, with FLOWPLAN_PYTHON.
#
# validate: flowplan validate -f MANIFEST (offline; errors become ::error annotations).
# plan:  flowplan plan --detailed-exitcode --out PLAN; exit 2 means "changes" (a success):
#        has-changes=true, and the step exits 0. The markdown plan goes to $GITHUB_STEP_SUMMARY
#        and to a file for a pull-request comment, whose first line is a marker naming the
#        manifest and environment (<!-- flowplan:plan:PATH --> or <!-- flowplan:plan:PATH#ENV -->),
#        so each manifest (and each of its environments) keeps its own comment. When the
#        plan fails, that file holds flowplan's error text (its stderr, which flowplan scrubs of
#        every secret it resolved) instead.
# apply: flowplan apply PLAN (a saved plan) or flowplan apply -f MANIFEST --auto-approve; what
#        it printed goes to $GITHUB_STEP_SUMMARY.
# The `env` input adds --env NAME to plan and apply (validate checks every environment).
set -uo pipefail

KNOWN_INPUTS=" command manifest working-directory args plan-file python-version extras env "
# flowplan's optional extras (pyproject.toml; tests/test_gitops.py keeps the two in step)
KNOWN_EXTRAS=" emulator postgres s3 aws vault "
MAX_TEXT=60000 # bytes of flowplan output quoted in a comment or summary (GitHub: 65,536 chars)

output=${GITHUB_OUTPUT:-/dev/null}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}

fail() {
  # One line, values shown with ${var@Q}: nothing here can start a workflow command of its own.
  echo "::error title=flowplan action::$*"
  echo "exit-code=1" >> "$output"
  exit 1
}

has_control_chars() {
  [[ $1 =~ [[:cntrl:]] ]]
}

check_path() { # NAME VALUE: a file name that is passed on as one argument and written to outputs
  if has_control_chars "$2"; then
    fail "input $1 must not contain control characters (newlines, tabs): ${2@Q}"
  fi
  if [[ $2 == -* ]]; then
    fail "input $1 must be a path, not an option: ${2@Q}"
  fi
}

check_inputs() {
  if [ -n "${FLOWPLAN_INPUTS:-}" ]; then
    local names name seen_command=false
    # shellcheck disable=SC2016 # Python, not shell
    names=$("${FLOWPLAN_PYTHON:-python3}" -c '
import json, os
inputs = json.loads(os.environ["FLOWPLAN_INPUTS"])
assert isinstance(inputs, dict)
print("\n".join(name.replace("\n", " ") for name in inputs))
' 2> /dev/null) || fail "cannot read the action's inputs (FLOWPLAN_INPUTS is not a JSON object)"
    while IFS= read -r name; do
      [ -z "$name" ] && continue
      if [[ $KNOWN_INPUTS != *" ${name,,} "* ]]; then
        fail "unknown input ${name@Q}; the inputs are:${KNOWN_INPUTS% }"
      fi
      [ "${name,,}" = command ] && seen_command=true
    done <<< "$names"
    if [ "$seen_command" != true ]; then
      fail "cannot read the action's inputs (FLOWPLAN_INPUTS has no \"command\")"
    fi
  fi
  if [ -z "${FLOWPLAN_COMMAND+set}" ]; then
    fail "FLOWPLAN_COMMAND is not set"
  fi
  command=$FLOWPLAN_COMMAND
  case "$command" in
    validate | plan | apply) ;;
    *) fail "command must be validate, plan or apply, not ${command@Q}" ;;
  esac
  manifest=${FLOWPLAN_MANIFEST:-flowplan.yaml}
  check_path manifest "$manifest"
  plan_file=${FLOWPLAN_PLAN_FILE:-}
  check_path plan-file "$plan_file"
  if [ "$command" = validate ] && [ -n "$plan_file" ]; then
    fail "input plan-file is for plan and apply, not validate"
  fi
  working_directory=${FLOWPLAN_WORKING_DIRECTORY:-.}
  check_path working-directory "$working_directory"
  local args=${FLOWPLAN_ARGS:-}
  if [[ $args =~ [\"\'\\\`] ]]; then
    fail "input args is split on whitespace; quotes and backslashes are refused: ${args@Q}"
  fi
  if [[ ${args//[$' \t\n']/} =~ [[:cntrl:]] ]]; then
    fail "input args must not contain control characters: ${args@Q}"
  fi
  extra=()
  read -r -d '' -a extra <<< "$args" || true
  check_extras
  check_env
}

check_extras() { # "s3,aws": names from KNOWN_EXTRAS, comma-separated, nothing else
  extras=${FLOWPLAN_EXTRAS:-}
  [ -z "$extras" ] && return 0
  if ! [[ $extras =~ ^[a-z0-9]+(,[a-z0-9]+)*$ ]]; then
    fail "input extras is a comma-separated list such as s3,aws (no spaces): ${extras@Q}"
  fi
  local name
  for name in ${extras//,/ }; do
    if [[ $KNOWN_EXTRAS != *" $name "* ]]; then
      fail "flowplan has no extra ${name@Q}; the extras are:${KNOWN_EXTRAS% }"
    fi
  done
}

check_env() { # a name of the manifest's environments:, passed on as --env NAME
  env_name=${FLOWPLAN_ENV_INPUT:-}
  [ -z "$env_name" ] && return 0
  if ! [[ $env_name =~ ^[a-z0-9][a-z0-9_-]{0,62}$ ]]; then
    fail "input env must be an environment name (^[a-z0-9][a-z0-9_-]{0,62}\$): ${env_name@Q}"
  fi
  if [ "$command" = validate ]; then
    fail "input env is for plan and apply; validate checks every environment"
  fi
  extra=(--env "$env_name" "${extra[@]}")
}

install_flowplan() {
  local source=${FLOWPLAN_SOURCE:-${GITHUB_ACTION_PATH:-.}}
  local venv=${FLOWPLAN_VENV:-${RUNNER_TEMP:-/tmp}/flowplan-venv}
  if [ -n "$extras" ]; then source="$source[$extras]"; fi
  "${FLOWPLAN_PYTHON:-python3}" -m venv --clear "$venv" || fail "cannot create $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$source" ||
    fail "cannot install flowplan (${source@Q})"
}

# Where this manifest's comment is: its path from the repository root, in characters that can
# neither end the HTML comment nor break the markdown around it.
comment_label() {
  local path=$manifest
  if [ "$working_directory" != . ] && [ -n "$working_directory" ]; then
    path="${working_directory%/}/$manifest"
  fi
  while [[ $path == ./* ]]; do path=${path#./}; done
  printf '%s' "${path//[^A-Za-z0-9._\/-]/_}"
  if [ -n "$env_name" ]; then printf '#%s' "$env_name"; fi
}

# The last MAX_TEXT bytes of a file, without the lines that are workflow commands (::error …
# annotations repeat the errors), in a fence no line of it can close.
quote_file() {
  local file=$1 text longest fence
  text=$(grep -v '^::' "$file" 2> /dev/null)
  if [ "${#text}" -gt "$MAX_TEXT" ]; then
    text=$(tail -c "$MAX_TEXT" <<< "$text" | sed '1d')
    text=$'(earlier lines cut; the job log has them all)\n'"$text"
  fi
  longest=$(grep -oE '`+' <<< "$text" | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }')
  fence='```'
  while [ "${#fence}" -le "$longest" ]; do fence+='`'; done
  printf '%stext\n%s\n%s\n' "$fence" "$text" "$fence"
}

# The marker, then the text, within one GitHub comment (65,536 characters): flowplan's markdown
# may use all of them itself, so a plan that long loses its last lines here (the job summary
# keeps them).
comment_file() {
  local text=$1 room=$((65536 - ${#marker} - 100)) newline=$'\n'
  if [ "${#text}" -gt "$room" ]; then
    text=${text:0:room}
    text="${text%"$newline"*}"$'\n\n_(cut to fit one comment; the job summary has it all)_'
  fi
  printf '%s\n%s\n' "$marker" "$text"
}

check_inputs
if [ "${FLOWPLAN_CHECK_ONLY:-}" = true ]; then
  exit 0
fi
if [ "${FLOWPLAN_INSTALL:-}" = true ]; then
  install_flowplan
  exit 0
fi
flowplan=${FLOWPLAN_BIN:-flowplan}
label=$(comment_label)

case "$command" in
  validate)
    "$flowplan" validate -f "$manifest" "${extra[@]}"
    code=$?
    echo "exit-code=$code" >> "$output"
    exit "$code"
    ;;
  plan)
    plan_file=${plan_file:-${RUNNER_TEMP:-/tmp}/flowplan.plan}
    markdown_file="${plan_file}.md"
    errors_file="${plan_file}.stderr"
    marker="<!-- flowplan:plan:${label} -->"
    # stderr goes to the log as usual and to a file, for the comment when the plan fails;
    # stdout goes round the pipe through file descriptor 3.
    {
      "$flowplan" plan -f "$manifest" --detailed-exitcode --out "$plan_file" "${extra[@]}" \
        2>&1 1>&3 3>&- | tee "$errors_file" >&2
      code=${PIPESTATUS[0]}
    } 3>&1
    case "$code" in
      2) has_changes=true ;;
      *) has_changes=false ;;
    esac
    if [ "$code" -eq 0 ] || [ "$code" -eq 2 ]; then
      if "$flowplan" show "$plan_file" --format markdown > "$markdown_file.body" 2> "$errors_file"; then
        cat "$markdown_file.body" >> "$summary"
        comment_file "$(cat "$markdown_file.body")" > "$markdown_file"
      else
        code=1
        has_changes=false
        cat "$errors_file" >&2
      fi
      rm -f "$markdown_file.body"
    fi
    if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
      body=$(
        # shellcheck disable=SC2016 # markdown backticks
        printf '### flowplan: plan failed (exit %s) for `%s`\n\n' "$code" "$label"
        if [ -s "$errors_file" ]; then
          quote_file "$errors_file"
        else
          printf 'flowplan printed no error; see the job log.\n'
        fi
      )
      printf '%s\n' "$body" >> "$summary"
      comment_file "$body" > "$markdown_file"
    fi
    rm -f "$errors_file"
    {
      echo "exit-code=$code"
      echo "has-changes=$has_changes"
      echo "plan-file=$plan_file"
      echo "markdown-file=$markdown_file"
      echo "comment-marker=$marker"
    } >> "$output"
    if [ "$code" -eq 2 ]; then
      echo "flowplan: the plan has changes (exit 2 reported as success)."
      exit 0
    fi
    exit "$code"
    ;;
  apply)
    log_file=${RUNNER_TEMP:-/tmp}/flowplan-apply.log
    # Both streams go to the log as usual and to a file, for the job summary.
    if [ -n "$plan_file" ]; then
      "$flowplan" apply "$plan_file" "${extra[@]}" 2>&1 | tee "$log_file"
      code=${PIPESTATUS[0]}
    else
      "$flowplan" apply -f "$manifest" --auto-approve "${extra[@]}" 2>&1 | tee "$log_file"
      code=${PIPESTATUS[0]}
    fi
    if [ "$code" -eq 0 ]; then outcome=succeeded; else outcome="failed (exit $code)"; fi
    {
      # shellcheck disable=SC2016 # markdown backticks
      printf '### flowplan: apply %s for `%s`\n\n' "$outcome" "$label"
      if [ -s "$log_file" ]; then quote_file "$log_file"; fi
    } >> "$summary"
    rm -f "$log_file"
    {
      echo "exit-code=$code"
      echo "has-changes=false"
      echo "plan-file=$plan_file"
      echo "markdown-file="
      echo "comment-marker="
    } >> "$output"
    exit "$code"
    ;;
esac
