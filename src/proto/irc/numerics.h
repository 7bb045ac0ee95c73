/* numerics.h: every numeric reply of the IRC adapter, with its format (like ngIRCd's
 * messages.h).
 *
 * Each name stands for two things, the code and the printf format of what follows the
 * client's nick, so that a handler says
 *
 *     irc_num(core, s, ERR_NOSUCHNICK, nick);
 *
 * and the compiler checks the arguments against the format (irc_num is declared with the
 * printf attribute). IRC_CODE(NAME) is the bare code, for a reply built by hand (353, 319)
 * or a command table. Names follow the Modern IRC documents (modern.ircdocs.horse); where
 * one code has several texts, the variant has a suffix. Keep the list sorted by code.
 */
#ifndef UVCHAT_IRC_NUMERICS_H
#define UVCHAT_IRC_NUMERICS_H

#define IRC_CODE_(code, fmt) (code)
#define IRC_CODE(name)       IRC_CODE_(name)

/* clang-format off */
#define RPL_WELCOME                  1, ":Welcome to the %s Network, %s"
#define RPL_YOURHOST                 2, ":Your host is %s, running version %s"
#define RPL_CREATED                  3, ":This server was created %s"
#define RPL_MYINFO                   4, "%s %s i not o"
#define RPL_ISUPPORT_1               5, "AWAYLEN=%d CASEMAPPING=ascii CHANLIMIT=#:%d CHANMODES=,,,nt CHANNELLEN=%d CHANTYPES=# KICKLEN=%d MODES=%d NETWORK=%s NICKLEN=%d PREFIX=(o)@ TOPICLEN=%d USERLEN=%d :are supported by this server"
#define RPL_ISUPPORT_2               5, "TARGMAX=JOIN:,KICK:%d,LIST:,NAMES:1,NOTICE:%d,PART:,PRIVMSG:%d,WHOIS:1 :are supported by this server"
#define RPL_UMODEIS                221, "%s"
#define RPL_LUSERCLIENT            251, ":There are %u users and %u invisible on 1 servers"
#define RPL_LUSERCHANNELS          254, "%u :channels formed"
#define RPL_LUSERME                255, ":I have %u clients and 0 servers"
#define RPL_AWAY                   301, "%s :%s"
#define RPL_USERHOST               302, ":%.*s"
#define RPL_ISON                   303, ":%.*s"
#define RPL_UNAWAY                 305, ":You are no longer marked as being away"
#define RPL_NOWAWAY                306, ":You have been marked as being away"
#define RPL_WHOISUSER              311, "%s %s %s * :%s"
#define RPL_WHOISSERVER            312, "%s %s :uvchat chat server"
#define RPL_WHOISSERVICE           313, "%s :is a network service"
#define RPL_ENDOFWHO               315, "%s :End of WHO list"
#define RPL_ENDOFWHOIS             318, "%s :End of /WHOIS list"
#define RPL_WHOISCHANNELS          319, "%s :%s"
#define RPL_WHOISTEXT              320, "%s :is using a plain-text client (nc or telnet)"
#define RPL_LISTSTART              321, "Channel :Users  Name"
#define RPL_LIST                   322, "%s %u :%s"
#define RPL_LISTEND                323, ":End of /LIST"
#define RPL_CHANNELMODEIS          324, "%s +%s%s"
#define RPL_CREATIONTIME           329, "%s %lld"
#define RPL_WHOISACCOUNT           330, "%s %s :is logged in as"
#define RPL_NOTOPIC                331, "%s :No topic is set"
#define RPL_TOPIC                  332, "%s :%s"
#define RPL_TOPICWHOTIME           333, "%s %s %lld"
#define RPL_VERSION                351, "%s %s :a chat server for IRC and plain-text clients"
#define RPL_WHOREPLY               352, "%s %s %s %s %s %c%s :0 %s"
#define RPL_NAMREPLY               353, "= %s :%s%s"
#define RPL_ENDOFNAMES             366, "%s :End of /NAMES list"
#define RPL_ENDOFBANLIST           368, "%s :End of channel ban list"
#define RPL_MOTD                   372, ":- %.*s"
#define RPL_MOTDSTART              375, ":- %s Message of the day - "
#define RPL_ENDOFMOTD              376, ":End of /MOTD command."
#define ERR_UNKNOWNERROR           400, "%s :%s"
#define ERR_NOSUCHNICK             401, "%s :No such nick/channel"
#define ERR_NOSUCHCHANNEL          403, "%s :No such channel"
#define ERR_CANNOTSENDTOCHAN       404, "%s :Cannot send to channel"
#define ERR_TOOMANYCHANNELS        405, "%.*s :You have joined too many channels"
#define ERR_TOOMANYTARGETS         407, "%s :Too many targets; the message went to the first %d only"
#define ERR_INVALIDCAPCMD          410, "%s :Invalid CAP command"
#define ERR_NORECIPIENT            411, ":No recipient given (%s)"
#define ERR_NOTEXTTOSEND           412, ":No text to send"
#define ERR_INPUTTOOLONG           417, ":Input line was too long"
#define ERR_UNKNOWNCOMMAND         421, "%s :Unknown command"
#define ERR_NOMOTD                 422, ":MOTD File is missing"
#define ERR_NONICKNAMEGIVEN        431, ":No nickname given"
#define ERR_ERRONEUSNICKNAME       432, "%s :Erroneous nickname"
#define ERR_NICKRESERVED           432, "%.*s :Nickname is reserved for a service"
#define ERR_NICKNAMEINUSE          433, "%.*s :Nickname is already in use"
#define ERR_NICKREGISTERED         433, "%.*s :Nickname is registered; log in first (/msg NickServ IDENTIFY %.*s PASSWORD)"
#define ERR_NICKREGISTERED_SASL    433, "%s :Nickname is registered; log in with SASL, or pick another nick and /msg NickServ IDENTIFY %s PASSWORD"
#define ERR_USERNOTINCHANNEL       441, "%s %s :They aren't on that channel"
#define ERR_NOTONCHANNEL           442, "%s :You're not on that channel"
#define ERR_NOTREGISTERED          451, ":You have not registered"
#define ERR_NEEDMOREPARAMS         461, "%s :Not enough parameters"
#define ERR_ALREADYREGISTERED      462, ":You may not reregister"
#define ERR_PASSWDMISMATCH         464, ":%s"
#define ERR_PASSWDTHROTTLED        464, ":Too many wrong passwords from your address; try again in %u seconds"
#define ERR_UNKNOWNMODE            472, "%c :is unknown mode char to me"
#define ERR_BADCHANMASK            476, "%s :Bad Channel Mask"
#define ERR_NOPRIVILEGES           481, ":Permission Denied- You're not an IRC operator"
#define ERR_CHANOPRIVSNEEDED       482, "%s :You're not channel operator"
#define ERR_UMODEUNKNOWNFLAG       501, ":Unknown MODE flag"
#define ERR_USERSDONTMATCH         502, ":Can't change mode for other users"
#define RPL_LOGGEDIN               900, "%s %s :You are now logged in as %s"
#define RPL_LOGGEDOUT              901, "%s :You are now logged out"
#define RPL_SASLSUCCESS            903, ":SASL authentication successful"
#define ERR_SASLFAIL               904, ":SASL authentication failed"
#define ERR_SASLFAIL_WHY           904, ":SASL authentication failed: %s"
#define ERR_SASLTOOLONG            905, ":SASL message too long"
#define ERR_SASLABORTED            906, ":SASL authentication aborted"
#define ERR_SASLALREADY            907, ":You have already authenticated using SASL"
#define RPL_SASLMECHS              908, "PLAIN :are available SASL mechanisms"
/* clang-format on */

#endif
