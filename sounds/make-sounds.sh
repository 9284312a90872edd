#!/usr/bin/env bash
# Regenerates every bundled prompt in this directory.
# Needs: espeak-ng, sox with libsox-fmt-all (MP3 via LAME, Ogg Vorbis, FLAC).
#   apt-get install -y espeak-ng sox libsox-fmt-all
# Each speech prompt is the Swedish sentence, a short pause, then the English sentence,
# stored as 8 kHz mono 16-bit WAV (the telephone rate: smallest files, no resampling).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

RATE=8000
PAUSE=0.6   # seconds between the Swedish and the English sentence

# speak VOICE TEXT OUT: espeak-ng (22.05 kHz) -> 16 kHz mono 16-bit, normalised to -3 dBFS,
# leading/trailing silence trimmed.
speak() {
  espeak-ng -v "$1" -s 150 -p 45 -w "$tmp/raw.wav" "$2"
  sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$3" gain -6 highpass 120 norm -3 \
    silence 1 0.05 0.5% reverse silence 1 0.05 0.5% reverse
}

# prompt NAME SWEDISH ENGLISH: NAME.wav = Swedish, pause, English at 8 kHz.
prompt() {
  speak sv "$2" "$tmp/sv.wav"
  speak en "$3" "$tmp/en.wav"
  sox -n -r 16000 -c 1 -b 16 "$tmp/gap.wav" trim 0 "$PAUSE"
  sox "$tmp/sv.wav" "$tmp/gap.wav" "$tmp/en.wav" "$tmp/$1-16k.wav"
  sox "$tmp/$1-16k.wav" -r "$RATE" -c 1 -b 16 "$1.wav"
}

prompt welcome \
  "Välkommen till Exempel AB." \
  "Welcome to Exempel AB."

prompt closed \
  "Välkommen till Exempel AB. Vi har stängt just nu. Vi har öppet vardagar klockan åtta till sjutton och lördagar klockan tio till tretton." \
  "Welcome to Exempel AB. We are closed right now. We are open weekdays from eight a.m. to five p.m. and Saturdays from ten a.m. to one p.m."

prompt high-load \
  "Just nu har vi väldigt många samtal och kan inte ta emot ditt samtal. Välkommen att ringa igen senare." \
  "We are receiving an unusually high number of calls and cannot take your call right now. Please call again later."

prompt main-menu \
  "Tryck 1 för försäljning, 2 för support, 9 för att lämna ett meddelande. Du kan också slå ett anknytningsnummer direkt." \
  "Press 1 for sales, 2 for support, 9 to leave a message. You can also dial an extension number directly."

prompt invalid \
  "Felaktigt val. Försök igen." \
  "Invalid choice. Please try again."

prompt voicemail-greeting \
  "Lämna ett meddelande efter tonen. Lägg på när du är klar." \
  "Please leave a message after the tone. Hang up when you are finished."
# The greeting ends with the tone it announces: 0.3 s pause, 400 ms of 1 kHz.
sox -n -r "$RATE" -c 1 -b 16 "$tmp/beep.wav" synth 0.4 sine 1000 vol 0.4 fade 0.01 0.4 0.01 pad 0.3 0
sox voicemail-greeting.wav "$tmp/beep.wav" "$tmp/vm.wav"
mv "$tmp/vm.wav" voicemail-greeting.wav

# The same welcome in the other formats, at 16 kHz, so the bundled config exercises every
# decoder (FLAC, MP3, Ogg Vorbis) and the resampler.
sox "$tmp/welcome-16k.wav" welcome.flac
sox "$tmp/welcome-16k.wav" -C 32 welcome.mp3
sox "$tmp/welcome-16k.wav" -C 3 welcome.ogg

# Hold music: about 20 s, 8 bars at 96 bpm in C major (C G Am F C F G C).
# A plucked melody in quarter notes over a soft triangle-wave chord per bar.
Q=0.625   # quarter note
BAR=2.5
melody=(E4 G4 C5 G4  D4 G4 B4 D5  C5 B4 A4 E4  F4 A4 C5 A4
        G4 E4 C4 E4  A4 C5 F5 C5  B4 D5 G4 B4  C5 G4 E4 C5)
chords=("C3 E3 G3" "G2 D3 B3" "A2 E3 C4" "F2 C3 A3" "C3 E3 G3" "F2 C3 A3" "G2 D3 B3" "C3 E3 G3")
notes=()
for i in "${!melody[@]}"; do
  sox -n -r "$RATE" -c 1 -b 16 "$tmp/m$i.wav" synth "$Q" pluck "${melody[$i]}" fade 0 "$Q" 0.15
  notes+=("$tmp/m$i.wav")
done
sox "${notes[@]}" "$tmp/melody.wav"
bars=()
for i in "${!chords[@]}"; do
  read -r a b c <<<"${chords[$i]}"
  sox -n -r "$RATE" -c 3 -b 16 "$tmp/triad.wav" synth "$BAR" triangle "$a" triangle "$b" triangle "$c" \
    fade 0.3 "$BAR" 0.4
  sox "$tmp/triad.wav" -c 1 "$tmp/c$i.wav"
  bars+=("$tmp/c$i.wav")
done
sox "${bars[@]}" "$tmp/chords.wav"
sox -m -v 0.8 "$tmp/melody.wav" -v 0.35 "$tmp/chords.wav" -b 16 hold-music.wav \
  lowpass 3400 norm -4 fade 0.2 0 1.0

ls -l ./*.wav ./*.flac ./*.mp3 ./*.ogg
