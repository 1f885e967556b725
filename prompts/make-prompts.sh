#!/bin/sh
# Makes the shipped Mandarin prompts in prompts/zh/ (8000 Hz mono μ-law WAV).
#
#   prompts/make-prompts.sh [OUT_DIR] [NAME...]
#
# OUT_DIR defaults to prompts/zh next to this script; with NAMEs only those
# prompts are remade. Needs espeak-ng and sox (Debian: apt-get install
# espeak-ng sox). Output is byte-for-byte reproducible (no dither, fixed
# random seed), so re-running it leaves a clean git tree.
#
# Voice: espeak-ng's Mandarin voice, variant "cmn-latn-pinyin". The plain
# "cmn" variant of espeak-ng 1.51 (Debian 12) reads many characters as
# pinyin spelled out in English ("nin two"); the pinyin variant reads both
# Hanzi and tone-numbered pinyin correctly. The prompts below are fed as
# pinyin so each reading is pinned down (e.g. 12345 as "yao1 er4 san1 si4
# wu3", the way hotline numbers are said on the phone).
#
# Replacing a prompt with a recording
# -----------------------------------
# Put the file in the daemon's prompt directory under the same name,
# <name>.wav, in any format the daemon accepts: 8000 Hz, mono, and either
# 16-bit PCM, μ-law or A-law (plain or WAVE_FORMAT_EXTENSIBLE). Convert a
# studio recording with, for example:
#
#   sox recording.wav -r 8000 -c 1 -e u-law -b 8 welcome.wav
#   sox recording.wav -r 8000 -c 1 -e signed-integer -b 16 welcome.wav
#
# then run `hotline check`, which decodes every prompt and names each file
# that is missing or in a format it cannot play. Keep the recording short
# and trimmed: prompts are chained (position announcements are built from
# position_prefix, digits and position_suffix, see src/media/prompts.rs).
# Do not re-run this script over a directory holding recordings unless you
# name only the prompts to remake.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/zh"}
if [ $# -gt 0 ]; then shift; fi

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "make-prompts: $tool not found" >&2; exit 1; }
done

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# -D: no dither, -R: repeatable random numbers; both keep output reproducible.
SOX="sox -D -R -V1"
# Words per minute: a little slower than espeak's 175 for callers on a
# noisy line.
SPEED=150

# sh has no local variables: helpers prefix theirs so the loop's are safe.
wanted() {
    [ $# -eq 1 ] && return 0
    w_name=$1
    shift
    for w_n in "$@"; do
        [ "$w_n" = "$w_name" ] && return 0
    done
    return 1
}

# speak NAME KIND PINYIN
#   KIND "sentence": stands alone; a short lead-in and tail of silence.
#   KIND "word": chained with others (numbers, position announcement);
#   trimmed tight so "二十三" does not sound like three separate answers.
speak() {
    s_name=$1 s_kind=$2 s_pinyin=$3
    espeak-ng -v cmn-latn-pinyin -s "$SPEED" -w "$tmp/raw.wav" "$s_pinyin"
    if [ "$s_kind" = sentence ]; then
        pad="0.1 0.2"
    else
        pad="0.02 0.04"
    fi
    # Trim espeak's leading/trailing silence, peak-normalise to -6 dBFS,
    # band-limit to the telephone band, resample to 8 kHz, write μ-law.
    # shellcheck disable=SC2086
    $SOX "$tmp/raw.wav" -r 8000 -c 1 -e u-law -b 8 "$out/$s_name.wav" \
        silence 1 0.01 -45d reverse silence 1 0.01 -45d reverse \
        highpass 200 lowpass 3400 gain -n -6 rate -v 8000 pad $pad
}

# The hold music: a calm pentatonic phrase of soft sine notes, each with an
# octave-below partial for warmth, a quick fade-in and a long fade-out. It
# starts and ends at silence, so looping it does not click, and it ends on
# the tonic so the loop resolves. Peak -14 dBFS: background, not a prompt.
hold_music() {
    i=0
    # frequency (Hz) and length (s): D5 E5 G5 E5 D5 B4 A4 B4 D5 B4 A4 G4
    for note in 587.33:0.6 659.25:0.6 783.99:1.2 659.25:0.6 587.33:0.6 493.88:1.2 \
        440.00:0.6 493.88:0.6 587.33:0.6 493.88:0.6 440.00:0.6 392.00:1.8; do
        f=${note%:*} d=${note#*:}
        low=$(awk "BEGIN { print $f / 2 }")
        fadeout=$(awk "BEGIN { print $d * 0.8 }")
        $SOX -n -r 8000 -c 1 -b 16 "$tmp/note$(printf %02d $i).wav" \
            synth "$d" sine "$f" synth "$d" sine mix "$low" \
            fade q 0.03 "$d" "$fadeout"
        i=$((i + 1))
    done
    $SOX "$tmp"/note*.wav -r 8000 -c 1 -e u-law -b 8 "$out/hold_music.wav" gain -n -14
    rm -f "$tmp"/note*.wav
}

# name | kind | pinyin fed to espeak-ng | text (what a recording should say)
while IFS='|' read -r name kind pinyin text; do
    name=$(echo "$name" | tr -d ' ')
    [ -z "$name" ] && continue
    case $name in '#'*) continue ;; esac
    wanted "$name" "$@" || continue
    speak "$name" "$(echo "$kind" | tr -d ' ')" "$pinyin"
    echo "$name.wav:$text"
done <<'EOF'
welcome              | sentence | nin2 hao3, huan1 ying2 zhi4 dian4 yao1 er4 san1 si4 wu3 shi4 min2 fu2 wu4 re4 xian4. | 您好，欢迎致电12345市民服务热线。
please_wait          | sentence | zuo4 xi2 zheng4 mang2, qing3 shao1 hou4.                | 坐席正忙，请稍候。
position_prefix      | word     | nin2 qian2 mian4 hai2 you3                              | 您前面还有
position_suffix      | word     | wei4 lai2 dian4                                         | 位来电
digit_0              | word     | ling2                                                   | 零
digit_1              | word     | yi1                                                     | 一
digit_2              | word     | er4                                                     | 二
digit_3              | word     | san1                                                    | 三
digit_4              | word     | si4                                                     | 四
digit_5              | word     | wu3                                                     | 五
digit_6              | word     | liu4                                                    | 六
digit_7              | word     | qi1                                                     | 七
digit_8              | word     | ba1                                                     | 八
digit_9              | word     | jiu3                                                    | 九
ten                  | word     | shi2                                                    | 十
two                  | word     | liang3                                                  | 两
all_busy             | sentence | dui4 bu4 qi3, zuo4 xi2 quan2 mang2, qing3 shao1 hou4 zai4 bo1. | 对不起，坐席全忙，请稍后再拨。
callback_offer       | sentence | ru2 xu1 hui2 dian4, qing3 an4 yi1.                      | 如需回电，请按1。
callback_recorded    | sentence | yi3 wei4 nin2 deng1 ji4 hui2 dian4, zai4 jian4.         | 已为您登记回电，再见。
rating_question      | sentence | qing3 dui4 ben3 ci4 fu2 wu4 jin4 xing2 ping2 jia4, man3 yi4 qing3 an4 yi1, ji1 ben3 man3 yi4 qing3 an4 er4, bu4 man3 yi4 qing3 an4 san1. | 请对本次服务进行评价，满意请按1，基本满意请按2，不满意请按3。
thank_you            | sentence | gan3 xie4 nin2 de ping2 jia4, zai4 jian4.               | 感谢您的评价，再见。
transfer_in_progress | sentence | zheng4 zai4 wei4 nin2 zhuan3 jie1, qing3 shao1 hou4.    | 正在为您转接，请稍候。
invalid_key          | sentence | an4 jian4 wu2 xiao4, qing3 chong2 xin1 shu1 ru4.        | 按键无效，请重新输入。
logged_in            | sentence | yi3 qian1 ru4                                           | 已签入
logged_out           | sentence | yi3 qian1 chu1                                          | 已签出
paused               | sentence | yi3 zan4 ting2                                          | 已暂停
resumed              | sentence | yi3 hui1 fu4                                            | 已恢复
enter_code           | sentence | qing3 shu1 ru4 gong1 neng2 ma3                          | 请输入功能码
goodbye              | sentence | zai4 jian4.                                             | 再见。
seat_not_in_call     | sentence | gai1 zuo4 xi2 dang1 qian2 mei2 you3 tong1 hua4.         | 该坐席当前没有通话。
survey_consent       | sentence | nin2 hao3, zhe4 li3 shi4 yao1 er4 san1 si4 wu3 shi4 min2 fu2 wu4 re4 xian4, xiang4 nin2 hui2 fang3 nin2 fan3 ying4 de shi4 xiang4. tong2 yi4 can1 jia1 qing3 an4 yi1. | 您好，这里是12345市民服务热线，向您回访您反映的事项。同意参加请按1。
survey_question_result | sentence | nin2 dui4 shi4 xiang4 de ban4 li3 jie2 guo3 shi4 fou3 man3 yi4? man3 yi4 qing3 an4 yi1, ji1 ben3 man3 yi4 qing3 an4 er4, bu4 man3 yi4 qing3 an4 san1. | 您对事项的办理结果是否满意？满意请按1，基本满意请按2，不满意请按3。
survey_question_attitude | sentence | nin2 dui4 gong1 zuo4 ren2 yuan2 de fu2 wu4 tai4 du4 shi4 fou3 man3 yi4? man3 yi4 qing3 an4 yi1, ji1 ben3 man3 yi4 qing3 an4 er4, bu4 man3 yi4 qing3 an4 san1. | 您对工作人员的服务态度是否满意？满意请按1，基本满意请按2，不满意请按3。
EOF

if wanted hold_music "$@"; then
    hold_music
    echo "hold_music.wav:(music)"
fi
