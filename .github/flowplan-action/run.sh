#!/usr/bin/env bash
# The GitHub Action's logic (action.yml runs it). Kept in a file so tests can run it with a
# fake GITHUB_* environment.
#
# validate: flowplan validate -f MANIFEST (offline; errors become ::error annotations).
# plan:  flowplan plan --detailed-exitcode --out PLAN; exit 2 means "changes" (a success):
#        has-changes=true, and the step exits 0. The markdown plan goes to $GITHUB_STEP_SUMMARY
#        and to a file for a pull-request comment.
# apply: flowplan apply PLAN (a saved plan) or flowplan apply -f MANIFEST --auto-approve.
set -uo pipefail

command=${FLOWPLAN_COMMAND:-plan}
manifest=${FLOWPLAN_MANIFEST:-flowplan.yaml}
plan_file=${FLOWPLAN_PLAN_FILE:-}
flowplan=${FLOWPLAN_BIN:-flowplan}
read -r -a extra <<< "${FLOWPLAN_ARGS:-}"
output=${GITHUB_OUTPUT:-/dev/null}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}

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
    "$flowplan" plan -f "$manifest" --detailed-exitcode --out "$plan_file" "${extra[@]}"
    code=$?
    case "$code" in
      0) has_changes=false ;;
      2) has_changes=true ;;
      *) has_changes=false ;;
    esac
    if [ "$code" -eq 0 ] || [ "$code" -eq 2 ]; then
      "$flowplan" show "$plan_file" --format markdown > "$markdown_file" || code=1
      cat "$markdown_file" >> "$summary"
    else
      printf '### flowplan: plan failed (exit %s)\n\nSee the job log.\n' "$code" > "$markdown_file"
      cat "$markdown_file" >> "$summary"
    fi
    {
      echo "exit-code=$code"
      echo "has-changes=$has_changes"
      echo "plan-file=$plan_file"
      echo "markdown-file=$markdown_file"
    } >> "$output"
    if [ "$code" -eq 2 ]; then
      echo "flowplan: the plan has changes (exit 2 reported as success)."
      exit 0
    fi
    exit "$code"
    ;;
  apply)
    if [ -n "$plan_file" ]; then
      "$flowplan" apply "$plan_file" "${extra[@]}"
    else
      "$flowplan" apply -f "$manifest" --auto-approve "${extra[@]}"
    fi
    code=$?
    {
      echo "exit-code=$code"
      echo "has-changes=false"
      echo "plan-file=$plan_file"
      echo "markdown-file="
    } >> "$output"
    exit "$code"
    ;;
  *)
    echo "::error::flowplan action: command must be validate, plan or apply, not '$command'"
    echo "exit-code=1" >> "$output"
    exit 1
    ;;
esac
