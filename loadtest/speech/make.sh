#!/usr/bin/env bash
# Makes the recorded speech of the harness's conversations (`loadtest/speech.py`): three voices, four
# sentences each, one Ogg Opus file per sentence (20 ms packets, 24 kb/s). Run once; the .opus files
# are committed, so the harness needs neither tool: `apt-get install espeak-ng opus-tools` to remake them.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while read -r voice name text; do
    espeak-ng -v "$voice" -s 165 -w "$tmp/$name.wav" "$text"
    opusenc --quiet --bitrate 24 --framesize 20 --comp 10 "$tmp/$name.wav" "$name.opus"
done <<'SENTENCES'
en-us+m3 a1 So the thing about running audio at scale is that every listener has to hear every word
en-gb+f3 b1 Right and most systems just measure the average and call it a day
en-us+m7 c1 Which hides the one person in the back row who hears nothing at all
en-us+m3 a2 Exactly so we count what each of them actually received against what was said
en-gb+f3 b2 Do you count the silence between turns or only the moments when someone talks
en-us+m7 c2 Only the talking I would think because silence is not something you can lose
en-us+m3 a3 Yes a slot counts when a speaker sent a packet for it and nobody else
en-gb+f3 b3 And if two people talk over each other the frame carries the earlier one
en-us+m7 c3 That sounds fair enough as long as the report says how it was counted
en-us+m3 a4 It does and the window is fixed on the speakers clock before anyone starts
en-gb+f3 b4 Then let us try it with two hundred rooms at once and see what holds
en-us+m7 c4 I will take the back row and tell you if I miss a single word
SENTENCES
