// A space as this page knows it: the `joined` snapshot, then every event after its `seq` applied in order
// (docs/protocol.md, Events). Plain data and functions over it; the views read it.

const MAX_LISTENERS_SHOWN = 100;
const MAX_HANDS_SHOWN = 100;
const MAX_TIMELINE = 500;

export function fromSnapshot(snapshot, role) {
  return {
    id: snapshot.space_id,
    title: snapshot.title,
    host: snapshot.host,
    hostName: snapshot.host_name,
    description: snapshot.description,
    topics: snapshot.topics,
    status: snapshot.status,
    endedReason: null,
    seq: snapshot.seq,
    createdAt: snapshot.created_at,
    participants: snapshot.participants.map((p) => ({ ...p })),
    listenerCount: snapshot.listener_count,
    listeners: snapshot.listeners.map((p) => ({ ...p })),
    timeline: snapshot.timeline.slice(),
    morePosts: snapshot.timeline.length > 0 ? snapshot.timeline[0].id > 1 : false,
    postCount: snapshot.post_count,
    hands: snapshot.hands.map((p) => ({ ...p })),
    handCount: snapshot.hand_count,
    muted: new Set(snapshot.muted),
    pinned: snapshot.pinned.slice(),
    pinnedPosts: new Map(snapshot.pinned_posts.map((post) => [post.id, post])),
    policy: snapshot.speaker_policy,
    invited: new Set(),
    recording: recordingOf(snapshot.recording),
    role,
    removed: false,
  };
}

/** The snapshot's `recording` (null while the space is not recorded) as the page keeps it. */
function recordingOf(recording) {
  if (!recording) return null;
  return { id: recording.recording_id, since: recording.since, consents: new Map(Object.entries(recording.consents || {})) };
}

export function roleOf(space, user) {
  const p = space.participants.find((x) => x.user === user);
  return p ? p.role : "listener";
}

export function onMic(role) {
  return role === "host" || role === "cohost" || role === "speaker";
}

export function findPost(space, id) {
  return space.pinnedPosts.get(id) || space.timeline.find((post) => post.id === id) || null;
}

function dropListener(space, user) {
  const before = space.listeners.length;
  space.listeners = space.listeners.filter((p) => p.user !== user);
  return before !== space.listeners.length;
}

function dropHand(space, user) {
  const before = space.hands.length;
  space.hands = space.hands.filter((p) => p.user !== user);
  if (before !== space.hands.length) space.handCount = Math.max(0, space.handCount - 1);
}

/** Apply one event to `space` (in place). `me` is this page's user id. Returns false for an event at or
 *  below the space's `seq` (already applied). */
export function apply(space, event, me) {
  if (event.seq <= space.seq) return false;
  if (event.seq !== space.seq + 1) console.warn(`stoa: events ${space.seq + 1}..${event.seq - 1} missing`);
  space.seq = event.seq;
  switch (event.type) {
    case "participant_joined": {
      space.participants = space.participants.filter((p) => p.user !== event.user);
      space.participants.push({ user: event.user, name: event.name, role: event.role });
      if (event.user === me) space.role = event.role;
      break;
    }
    case "participant_left":
      space.participants = space.participants.filter((p) => p.user !== event.user);
      space.muted.delete(event.user);
      dropHand(space, event.user);
      break;
    case "audience_changed": {
      space.listenerCount = event.listener_count;
      const gone = new Set(event.departed.map((p) => p.user));
      space.listeners = space.listeners.filter((p) => !gone.has(p.user));
      for (const p of event.arrived) if (!space.listeners.some((x) => x.user === p.user)) space.listeners.push(p);
      space.listeners = space.listeners.slice(-MAX_LISTENERS_SHOWN);
      break;
    }
    case "role_changed": {
      const was = space.participants.find((p) => p.user === event.user);
      if (event.role === "listener") {
        space.participants = space.participants.filter((p) => p.user !== event.user);
        space.muted.delete(event.user);
        if (was) {
          space.listeners.push({ user: event.user, name: event.name });
          space.listenerCount += 1;
        }
      } else if (was) {
        was.role = event.role;
      } else {
        space.participants.push({ user: event.user, name: event.name, role: event.role });
        if (dropListener(space, event.user) || space.listenerCount > 0) space.listenerCount -= 1;
        space.invited.delete(event.user);
      }
      if (event.user === me) space.role = event.role;
      break;
    }
    case "post_shared":
      space.timeline.push(event.post);
      if (space.timeline.length > MAX_TIMELINE) {
        space.timeline = space.timeline.slice(-MAX_TIMELINE);
        space.morePosts = true;
      }
      space.postCount = Math.max(space.postCount, event.post.id);
      break;
    case "hand_raised":
      if (!space.hands.some((p) => p.user === event.user)) {
        if (space.hands.length < MAX_HANDS_SHOWN) space.hands.push({ user: event.user, name: event.name });
        space.handCount += 1;
      }
      break;
    case "hand_lowered":
      dropHand(space, event.user);
      break;
    case "mute_changed":
      if (event.muted) space.muted.add(event.user);
      else space.muted.delete(event.user);
      break;
    case "participant_removed":
      space.participants = space.participants.filter((p) => p.user !== event.user);
      if (dropListener(space, event.user)) space.listenerCount = Math.max(0, space.listenerCount - 1);
      space.muted.delete(event.user);
      dropHand(space, event.user);
      if (event.user === me) space.removed = true;
      break;
    case "post_pinned": {
      space.pinned = space.pinned.filter((id) => id !== event.post_id);
      space.pinned.push(event.post_id);
      const post = findPost(space, event.post_id);
      if (post) space.pinnedPosts.set(post.id, post);
      break;
    }
    case "post_unpinned":
      space.pinned = space.pinned.filter((id) => id !== event.post_id);
      space.pinnedPosts.delete(event.post_id);
      break;
    case "speaker_policy_changed":
      space.policy = event.policy;
      break;
    case "speaker_invited":
      space.invited.add(event.user);
      break;
    case "space_ended":
      space.status = "ended";
      space.endedReason = event.reason;
      space.recording = null;
      break;
    case "recording_changed":
      // Consent is given to one recording: a new one asks everyone on the mic again (the one who turned it on
      // has consented by doing so: a `recording_consent` event follows).
      space.recording = event.on ? { id: event.recording_id, since: event.at / 1000, consents: new Map() } : null;
      break;
    case "recording_consent":
      if (space.recording) space.recording.consents.set(event.user, event.consent === "given" ? "given" : "declined");
      break;
    default:
      break; // `reaction`, and events this page does not know
  }
  return true;
}
