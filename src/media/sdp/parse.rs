//! SDP text to [`SessionDescription`]. Lines we do not understand are
//! skipped: phones put all sorts of vendor attributes in their offers, and a
//! call must not fail over an `a=` line we would ignore anyway.

use std::net::IpAddr;

use super::{AudioMedia, Direction, Fmtp, Origin, RtpMap, SdpError, SessionDescription};

/// Which part of the description the current line belongs to.
enum Section {
    Session,
    Audio,
    /// Video, a second audio stream, anything else: its attributes must not
    /// leak into the stream we use.
    Other,
}

pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let mut origin = None;
    let mut connection = None;
    let mut direction = None;
    let mut audio: Option<AudioMedia> = None;
    let mut section = Section::Session;

    for raw in body.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            continue;
        };
        let Some((kind, value)) = line.split_once('=') else {
            continue;
        };
        match (kind, &section) {
            ("o", Section::Session) if origin.is_none() => origin = Some(parse_origin(value)?),
            ("c", Section::Session) => connection = Some(parse_connection(value)?),
            ("c", Section::Audio) => {
                if let Some(a) = audio.as_mut() {
                    a.connection = Some(parse_connection(value)?);
                }
            }
            ("m", _) => {
                section = Section::Other;
                if audio.is_none() && value.starts_with("audio ") {
                    audio = Some(parse_media(value)?);
                    section = Section::Audio;
                }
            }
            ("a", Section::Session) => {
                if let Some(d) = Direction::from_attribute(value) {
                    direction = Some(d);
                }
            }
            ("a", Section::Audio) => {
                if let Some(a) = audio.as_mut() {
                    apply_audio_attribute(a, value);
                }
            }
            _ => {}
        }
    }

    Ok(SessionDescription {
        origin: origin.ok_or(SdpError::MissingOrigin)?,
        connection,
        direction,
        audio,
    })
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <addr>`
fn parse_origin(value: &str) -> Result<Origin, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let mut next = || fields.next().ok_or(SdpError::InvalidOrigin);
    let username = next()?.to_owned();
    let session_id = next()?.parse().map_err(|_| SdpError::InvalidOrigin)?;
    let session_version = next()?.parse().map_err(|_| SdpError::InvalidOrigin)?;
    Ok(Origin {
        username,
        session_id,
        session_version,
    })
}

/// `c=IN IP4 <addr>[/ttl[/count]]`; FQDNs are refused since we never resolve
/// names on the media path.
fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some("IN"), Some(addrtype), Some(addr)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(SdpError::InvalidConnection);
    };
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr.parse().map_err(|_| SdpError::InvalidConnection)?;
    match (addrtype, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(SdpError::InvalidConnection),
    }
}

/// `m=audio <port>[/<count>] <proto> <fmt> ...`
fn parse_media(value: &str) -> Result<AudioMedia, SdpError> {
    let mut fields = value.split_ascii_whitespace().skip(1);
    let (Some(port), Some(proto)) = (fields.next(), fields.next()) else {
        return Err(SdpError::InvalidMedia);
    };
    let port = port.split('/').next().unwrap_or(port);
    let port = port.parse().map_err(|_| SdpError::InvalidMedia)?;
    let payload_types = fields
        .filter_map(|f| f.parse::<u8>().ok())
        .filter(|&pt| pt <= 0x7f)
        .collect();
    Ok(AudioMedia {
        port,
        proto: proto.to_owned(),
        payload_types,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        direction: None,
        ptime: None,
    })
}

fn apply_audio_attribute(audio: &mut AudioMedia, value: &str) {
    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
    match name {
        "rtpmap" => {
            if let Some(map) = parse_rtpmap(arg) {
                audio.rtpmaps.push(map);
            }
        }
        "fmtp" => {
            if let Some((pt, params)) = split_pt(arg) {
                audio.fmtps.push(Fmtp {
                    pt,
                    params: params.to_owned(),
                });
            }
        }
        "ptime" => audio.ptime = arg.trim().parse().ok().or(audio.ptime),
        _ => {
            if let Some(d) = Direction::from_attribute(name) {
                audio.direction = Some(d);
            }
        }
    }
}

/// `<pt> <encoding>/<clock>[/<channels>]`
fn parse_rtpmap(arg: &str) -> Option<RtpMap> {
    let (pt, rest) = split_pt(arg)?;
    let mut parts = rest.split('/');
    let encoding = parts.next().filter(|e| !e.is_empty())?.to_owned();
    let clock_rate = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    Some(RtpMap {
        pt,
        encoding,
        clock_rate,
        channels,
    })
}

fn split_pt(arg: &str) -> Option<(u8, &str)> {
    let (pt, rest) = arg.trim_start().split_once(' ')?;
    let pt = pt.parse().ok().filter(|&pt: &u8| pt <= 0x7f)?;
    Some((pt, rest.trim()))
}
