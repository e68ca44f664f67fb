//! The OAuth2 invite URL (`imdsbot discord invite-url`) and the permissions it asks for.

use serenity::model::permissions::Permissions;

/// Exactly what the bot needs: read the channel and its history, answer in threads it starts
/// from messages, and show embeds.
pub const PERMISSIONS: Permissions = Permissions::VIEW_CHANNEL
    .union(Permissions::SEND_MESSAGES)
    .union(Permissions::SEND_MESSAGES_IN_THREADS)
    .union(Permissions::CREATE_PUBLIC_THREADS)
    .union(Permissions::EMBED_LINKS)
    .union(Permissions::READ_MESSAGE_HISTORY);

/// The URL that adds the bot (with `/imds`) to a server.
pub fn invite_url(client_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={client_id}&scope=bot+applications.commands&permissions={}",
        PERMISSIONS.bits()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_exactly_the_six_needed() {
        // view 1<<10, send 1<<11, embed 1<<14, history 1<<16, public threads 1<<35,
        // send in threads 1<<38 (Discord's documented bit positions).
        let expected: u64 = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 35) | (1 << 38);
        assert_eq!(PERMISSIONS.bits(), expected);
        assert_eq!(expected, 309_237_730_304);
        assert_eq!(
            invite_url(123),
            "https://discord.com/oauth2/authorize?client_id=123&scope=bot+applications.commands&permissions=309237730304"
        );
    }
}
