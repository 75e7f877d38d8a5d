# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_acsync_global_optspecs
    string join \n h/help V/version
end

function __fish_acsync_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_acsync_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_acsync_using_subcommand
    set -l cmd (__fish_acsync_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c acsync -n "__fish_acsync_needs_command" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_needs_command" -s V -l version -d 'Print version'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "daemon" -d 'Run the service: watch the folder, run exports on schedule, write status files'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "check" -d 'Validate acsync.toml and export files; prints FILE:LINE:COL: message'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "plan" -d 'Dry run: what a run of export NAME would add, update and remove. Writes nothing'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "explain" -d 'Why an address is or is not on the list, and what the next run would do for it'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "sync" -d 'Run export NAME now and write its status file'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "release" -d 'Let the list\'s other exports manage what a deleted export NAME kept (its members are otherwise never unsubscribed by them)'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "status" -d 'Show every export\'s status file as a table, or one export in detail'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "state" -d 'The state database: `state reset [--adopt]` moves a damaged one aside and adopts again'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "doctor" -d 'Read-only checks of the configuration against the real account, each with a verdict and a fix'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "history" -d 'When and why: export NAME\'s last runs and their changes, from the run history'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "demo" -d 'A self-contained demonstration on a local ActiveCampaign simulator'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "simulator" -d 'Serve the ActiveCampaign simulator for your own configuration, until Ctrl-C'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "init" -d 'Write a starter configuration folder: acsync.toml, one export, a sample segment'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "completions" -d 'Print a shell completion script (e.g. `acsync completions bash > /etc/bash_completion.d/acsync`)'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "man" -d 'Print the manual page (roff; e.g. `acsync man | man -l -`)'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "schema" -d 'Print the JSON Schema of export files or acsync.toml, or write both into DIR'
complete -c acsync -n "__fish_acsync_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c acsync -n "__fish_acsync_using_subcommand daemon" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand daemon" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand check" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand check" -l format -d 'How problems are printed: plain FILE:LINE:COL lines, or GitHub Actions annotations' -r -f -a "plain\t'`FILE:LINE:COL: message`, one a line (compilers\' convention: editors jump to it)'
github\t'`::error file=F,line=L,col=C::message` workflow commands'"
complete -c acsync -n "__fish_acsync_using_subcommand check" -l ignore-outside -d 'Skip named files that are neither under the folder\'s exports/ nor its acsync.toml (for pre-commit hooks, which pass every changed .toml file)'
complete -c acsync -n "__fish_acsync_using_subcommand check" -l online -d 'Also ask ActiveCampaign: each export\'s list and mapped custom fields must exist on its account (read-only requests)'
complete -c acsync -n "__fish_acsync_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c acsync -n "__fish_acsync_using_subcommand plan" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand plan" -l json -d 'Print one JSON object instead of a summary (a stable format: see the README)'
complete -c acsync -n "__fish_acsync_using_subcommand plan" -l detailed-exitcode -d 'Exit 0 when there is nothing to change, 2 when there are changes (or removals are blocked), 1 on error, as Terraform does'
complete -c acsync -n "__fish_acsync_using_subcommand plan" -l full-read -d 'Read the list in full now, whatever full_read_every says'
complete -c acsync -n "__fish_acsync_using_subcommand plan" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand explain" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand explain" -l json -d 'Print one JSON object with a section per question'
complete -c acsync -n "__fish_acsync_using_subcommand explain" -l offline -d 'Do not ask ActiveCampaign: answer from the segment and the local state only'
complete -c acsync -n "__fish_acsync_using_subcommand explain" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand sync" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand sync" -l allow-removals -d 'Apply unsubscribes even above max_removals, for this run only'
complete -c acsync -n "__fish_acsync_using_subcommand sync" -l full-read -d 'Read the list in full now, whatever full_read_every says'
complete -c acsync -n "__fish_acsync_using_subcommand sync" -l adopt -d 'After a lost state database: take ownership of the list\'s active members that are in the segment (see the README, "Lost state")'
complete -c acsync -n "__fish_acsync_using_subcommand sync" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand release" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand release" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand status" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand status" -l watch -d 'Redraw every SECONDS (default 2) until Ctrl-C' -r
complete -c acsync -n "__fish_acsync_using_subcommand status" -l json -d 'Print a JSON array of the status objects (with NAME: that one object)'
complete -c acsync -n "__fish_acsync_using_subcommand status" -l wide -d 'Show errors whole instead of cut to fit the table'
complete -c acsync -n "__fish_acsync_using_subcommand status" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand state; and not __fish_seen_subcommand_from reset help" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand state; and not __fish_seen_subcommand_from reset help" -f -a "reset" -d 'Move the state database aside (it is kept, timestamped) and, with --adopt, adopt every enabled export\'s list again'
complete -c acsync -n "__fish_acsync_using_subcommand state; and not __fish_seen_subcommand_from reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c acsync -n "__fish_acsync_using_subcommand state; and __fish_seen_subcommand_from reset" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand state; and __fish_seen_subcommand_from reset" -l adopt -d 'Then run every enabled export once as `sync --adopt` does'
complete -c acsync -n "__fish_acsync_using_subcommand state; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Move the state database aside (it is kept, timestamped) and, with --adopt, adopt every enabled export\'s list again'
complete -c acsync -n "__fish_acsync_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c acsync -n "__fish_acsync_using_subcommand doctor" -l connection -d 'Check only this connection and its exports' -r
complete -c acsync -n "__fish_acsync_using_subcommand doctor" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand doctor" -l json -d 'Print one JSON object: `ok` and every check'
complete -c acsync -n "__fish_acsync_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand history" -l config-dir -d 'Configuration folder holding acsync.toml and exports/. Default: $ACSYNC_CONFIG_DIR, else the current folder when it holds an acsync.toml, else /etc/acsync when it exists' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand history" -l email -d 'One contact\'s entries (full address: this runs on the host, for the operator)' -r
complete -c acsync -n "__fish_acsync_using_subcommand history" -l run -d 'The changes of run N (its id, as listed without options)' -r
complete -c acsync -n "__fish_acsync_using_subcommand history" -l limit -d 'At most N runs (or entries with --run / --email)' -r
complete -c acsync -n "__fish_acsync_using_subcommand history" -l json -d 'Print one JSON object'
complete -c acsync -n "__fish_acsync_using_subcommand history" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand demo" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand simulator" -l listen -d 'Address to serve on (127.0.0.1:0 picks a free port)' -r
complete -c acsync -n "__fish_acsync_using_subcommand simulator" -l lists -d 'The lists to create: a count N (lists "List 1".."List N") or names separated by commas ("Newsletter,VIP"). List ids follow the order, from 1. Default: one list, "Newsletter". On a fresh start only, not over a loaded --state-file' -r
complete -c acsync -n "__fish_acsync_using_subcommand simulator" -l key-file -d 'Read the API key from this file; created (mode 0600) with a random key if it does not exist. Without it a random key is printed' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand simulator" -l rps -d 'Requests per second the account allows (ActiveCampaign\'s limit is 5); 0 = unlimited' -r
complete -c acsync -n "__fish_acsync_using_subcommand simulator" -l seed-file -d 'Contacts, custom fields and memberships to start with. CSV (.csv): a header with `email` and any of first_name, last_name, phone, tags and lists (`;`-separated, `Name` or `Name:unsubscribed`); other columns are text custom fields by personalization tag. JSON: {"lists": [names], "fields": [{"perstag", "title", "type", "options"}], "contacts": [{"email", "first_name", "last_name", "phone", "fields": {TAG: value}, "tags": [..], "lists": {name: "active"|"unsubscribed"|..}}]}. Applied on a fresh start only, not over a loaded --state-file' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand simulator" -l state-file -d 'Keep the account in this JSON file between restarts (loaded at start, saved every 30 s after a change and on Ctrl-C/SIGTERM; mode 0600)' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand simulator" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand init" -l url -d 'The connection\'s URL: where `acsync simulator` listens' -r
complete -c acsync -n "__fish_acsync_using_subcommand init" -l key-file -d 'The API key file the connection reads (the one given to `acsync simulator --key-file`); created (0600) with a random key if missing. Default: DIR/simulator.key' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand init" -l key-env -d 'Read the key from this environment variable instead of a file' -r
complete -c acsync -n "__fish_acsync_using_subcommand init" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand completions" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand man" -s h -l help -d 'Print help'
complete -c acsync -n "__fish_acsync_using_subcommand schema" -l write -d 'Write acsync.schema.json and export.schema.json into DIR instead' -r -F
complete -c acsync -n "__fish_acsync_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "daemon" -d 'Run the service: watch the folder, run exports on schedule, write status files'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "check" -d 'Validate acsync.toml and export files; prints FILE:LINE:COL: message'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "plan" -d 'Dry run: what a run of export NAME would add, update and remove. Writes nothing'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "explain" -d 'Why an address is or is not on the list, and what the next run would do for it'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "sync" -d 'Run export NAME now and write its status file'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "release" -d 'Let the list\'s other exports manage what a deleted export NAME kept (its members are otherwise never unsubscribed by them)'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "status" -d 'Show every export\'s status file as a table, or one export in detail'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "state" -d 'The state database: `state reset [--adopt]` moves a damaged one aside and adopts again'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "doctor" -d 'Read-only checks of the configuration against the real account, each with a verdict and a fix'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "history" -d 'When and why: export NAME\'s last runs and their changes, from the run history'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "demo" -d 'A self-contained demonstration on a local ActiveCampaign simulator'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "simulator" -d 'Serve the ActiveCampaign simulator for your own configuration, until Ctrl-C'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "init" -d 'Write a starter configuration folder: acsync.toml, one export, a sample segment'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "completions" -d 'Print a shell completion script (e.g. `acsync completions bash > /etc/bash_completion.d/acsync`)'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "man" -d 'Print the manual page (roff; e.g. `acsync man | man -l -`)'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "schema" -d 'Print the JSON Schema of export files or acsync.toml, or write both into DIR'
complete -c acsync -n "__fish_acsync_using_subcommand help; and not __fish_seen_subcommand_from daemon check plan explain sync release status state doctor history demo simulator init completions man schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c acsync -n "__fish_acsync_using_subcommand help; and __fish_seen_subcommand_from state" -f -a "reset" -d 'Move the state database aside (it is kept, timestamped) and, with --adopt, adopt every enabled export\'s list again'
