//! Every text of the dashboard, in one catalog: a key, its English and its Russian. A page
//! asks for a text with `t("key")` (`{name}` in a text is filled from `t("key", name=…)`);
//! a key not in the catalog fails the page rather than showing a blank. The language is the
//! `crier_lang` cookie's (the switch in the header), else the browser's `Accept-Language`.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;
use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, State};

/// The languages shipped: code and name, as the switch shows them.
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("ru", "Русский")];

/// The cookie that keeps a person's choice of language.
pub const COOKIE: &str = "crier_lang";

/// `(key, English, Russian)`.
pub const CATALOG: &[(&str, &str, &str)] = &[
    ("nav.skip", "Skip to the content", "Перейти к содержимому"),
    ("nav.label", "Pages", "Разделы"),
    ("nav.language", "Language", "Язык"),
    ("nav.signout", "Sign out", "Выйти"),
    ("nav.calendar", "Calendar", "Календарь"),
    ("nav.runs", "Runs", "Запуски"),
    ("nav.approvals", "Approvals", "Согласования"),
    ("nav.kill", "Kill switch", "Стоп-кран"),
    ("nav.accounts", "Accounts", "Аккаунты"),
    ("nav.incidents", "Incidents", "Инциденты"),
    ("nav.contests", "Contests", "Конкурсы"),
    (
        "notice.incident_recorded",
        "Recorded: the service applies it within seconds.",
        "Записано: сервис применит это в течение нескольких секунд.",
    ),
    ("incidents.title", "Incidents", "Инциденты"),
    ("incidents.open", "Open", "Открытые"),
    (
        "incidents.recent",
        "Resolved in the last 30 days",
        "Закрытые за последние 30 дней",
    ),
    (
        "incidents.none_open",
        "No incident is open.",
        "Открытых инцидентов нет.",
    ),
    (
        "incidents.none_recent",
        "None resolved lately.",
        "Недавно закрытых нет.",
    ),
    ("incidents.number", "Incident {id}", "Инцидент {id}"),
    ("incidents.plan", "Crisis plan", "Кризисный план"),
    ("incidents.level", "Level", "Уровень"),
    ("incidents.opened", "Opened", "Открыт"),
    ("incidents.status", "Status", "Статус"),
    ("incidents.status.open", "open", "открыт"),
    ("incidents.status.resolved", "resolved", "закрыт"),
    ("incidents.acknowledged", "Acknowledged by", "Принял"),
    ("incidents.not_acknowledged", "nobody yet", "пока никто"),
    (
        "incidents.chart",
        "Mentions per minute",
        "Упоминания в минуту",
    ),
    ("incidents.act", "Respond", "Действия"),
    ("incidents.ack", "Acknowledge", "Принять"),
    (
        "incidents.note",
        "Note (a rejection needs one)",
        "Комментарий (для отклонения обязателен)",
    ),
    (
        "incidents.approve",
        "Approve the response",
        "Одобрить ответ",
    ),
    ("incidents.reject", "Reject the response", "Отклонить ответ"),
    ("incidents.resolve", "Resolve", "Закрыть"),
    ("incidents.report", "Report", "Отчёт"),
    ("incidents.timeline", "Timeline", "Хронология"),
    (
        "incidents.time_to_detect",
        "Time to detect",
        "Время до обнаружения",
    ),
    (
        "incidents.time_to_acknowledge",
        "Time to acknowledge",
        "Время до принятия",
    ),
    (
        "incidents.time_to_respond",
        "Time to respond",
        "Время до ответа",
    ),
    (
        "incidents.time_to_resolve",
        "Time to resolve",
        "Время до закрытия",
    ),
    ("incidents.no_mentions", "No mentions", "Упоминаний нет"),
    ("incidents.kind.ack", "ack", "принят"),
    ("incidents.kind.approval", "approval", "согласование"),
    ("incidents.kind.level", "level", "уровень"),
    ("incidents.kind.note", "note", "комментарий"),
    ("incidents.kind.notify", "notify", "оповещение"),
    ("incidents.kind.post", "post", "публикация"),
    ("incidents.kind.resolve", "resolve", "закрыт"),
    ("incidents.kind.signal", "signal", "сигнал"),
    ("incidents.kind.step", "step", "шаг"),
    ("contests.title", "Contests", "Конкурсы"),
    (
        "contests.none",
        "No contest in the playbooks.",
        "В сценариях нет конкурсов.",
    ),
    (
        "contests.phase.scheduled",
        "Not announced yet",
        "Ещё не объявлен",
    ),
    (
        "contests.phase.collecting",
        "Collecting entries",
        "Идёт приём заявок",
    ),
    (
        "contests.phase.committed",
        "Entries closed; the list is committed",
        "Приём закрыт, список зафиксирован",
    ),
    ("contests.phase.drawn", "Drawn", "Розыгрыш проведён"),
    (
        "contests.counts",
        "{seen} entries, {eligible} eligible",
        "Заявок: {seen}, допущено: {eligible}",
    ),
    ("contests.announce", "Announced", "Объявление"),
    ("contests.closes", "Entries close", "Окончание приёма"),
    ("contests.draw", "Draw", "Розыгрыш"),
    (
        "contests.verdicts",
        "Entries by verdict",
        "Заявки по решениям",
    ),
    (
        "contests.provisional",
        "verdicts as of now; frozen when entries close",
        "решения на сейчас; фиксируются при закрытии приёма",
    ),
    (
        "contests.left_out",
        "{n} left out by {rule}",
        "{n} — не допущены правилом {rule}",
    ),
    ("contests.winners", "Winners", "Победители"),
    ("contests.reserves", "Reserves", "Резерв"),
    ("contests.substitutions", "Substitutions", "Замены"),
    ("contests.commitment", "Commitment", "Обязательство"),
    (
        "contests.list_sha256",
        "SHA-256 of the entry list",
        "SHA-256 списка заявок",
    ),
    (
        "contests.seed_sha256",
        "SHA-256 of the seed",
        "SHA-256 зерна",
    ),
    (
        "contests.download_proof",
        "Download the proof (JSON)",
        "Скачать доказательство (JSON)",
    ),
    (
        "contests.proof_holds",
        "Verified here: the proof holds.",
        "Проверено здесь: доказательство верно.",
    ),
    (
        "contests.proof_fails",
        "Verified here: the proof does not hold.",
        "Проверено здесь: доказательство не сходится.",
    ),
    ("contests.entries", "Entries", "Заявки"),
    ("contests.when", "When", "Когда"),
    ("contests.author", "Author", "Автор"),
    ("contests.text", "Text", "Текст"),
    ("contests.verdict", "Verdict", "Решение"),
    ("contests.eligible", "eligible", "допущена"),
    (
        "contests.left_out_by",
        "left out by {rule}",
        "не допущена: {rule}",
    ),
    ("contests.winner", "winner", "победитель"),
    ("contests.reserve", "reserve", "резерв"),
    ("contests.no_entries", "No entries yet.", "Заявок пока нет."),
    (
        "contests.more",
        "{n} more entries: the API lists every one.",
        "Ещё заявок: {n}; все они есть в API.",
    ),
    (
        "footer.times",
        "Times are in the brand's time zone, {tz}",
        "Время указано в часовом поясе бренда, {tz}",
    ),
    (
        "footer.viewer",
        "yours in brackets, {tz}",
        "ваше — в скобках, {tz}",
    ),
    ("role.viewer", "viewer", "наблюдатель"),
    ("role.editor", "editor", "редактор"),
    ("role.admin", "admin", "администратор"),
    ("error.title", "Something is wrong", "Что-то не так"),
    ("error.forbidden", "Not allowed", "Нет прав"),
    ("error.not_found", "Not found", "Не найдено"),
    ("error.back", "Back", "Назад"),
    (
        "error.csrf",
        "This form is out of date or came from another site: reload the page and try again.",
        "Форма устарела или отправлена с другого сайта: обновите страницу и попробуйте ещё раз.",
    ),
    ("signin.title", "Sign in", "Вход"),
    (
        "signin.link.title",
        "Sign in with your link",
        "Вход по ссылке",
    ),
    (
        "signin.link.explain",
        "This link signs you in once. Press the button to continue.",
        "Эта ссылка открывает вход один раз. Нажмите кнопку, чтобы продолжить.",
    ),
    ("signin.link.button", "Sign in", "Войти"),
    (
        "signin.link.hint",
        "No token? Ask for a one-time link: crier login YOUR_NAME",
        "Нет токена? Попросите одноразовую ссылку: crier login ВАШЕ_ИМЯ",
    ),
    (
        "signin.token.title",
        "Sign in with a token",
        "Вход по токену",
    ),
    ("signin.token.label", "API token", "API-токен"),
    (
        "signin.token.hint",
        "The token that crier token new printed for you.",
        "Токен, который вам выдала команда crier token new.",
    ),
    ("signin.token.button", "Sign in", "Войти"),
    ("notice.signed_out", "You are signed out.", "Вы вышли."),
    ("notice.approved", "Approved.", "Одобрено."),
    ("notice.rejected", "Rejected.", "Отклонено."),
    (
        "notice.paused",
        "Paused. Posts it covers are held until it is resumed.",
        "Пауза включена. Публикации под ней задержаны до возобновления.",
    ),
    (
        "notice.resumed",
        "Resumed. Held posts go out by their missed: policy.",
        "Возобновлено. Задержанные публикации выйдут по своему правилу missed:.",
    ),
    (
        "notice.sent_again",
        "Sent again: see the new run below.",
        "Отправлено повторно: новый запуск — ниже.",
    ),
    ("calendar.title", "Calendar", "Календарь"),
    ("calendar.views", "Views", "Вид"),
    ("calendar.view.month", "Month", "Месяц"),
    ("calendar.view.week", "Week", "Неделя"),
    ("calendar.view.list", "List", "Список"),
    ("calendar.move", "Move", "Переход"),
    ("calendar.prev", "Earlier", "Раньше"),
    ("calendar.next", "Later", "Позже"),
    ("calendar.today", "Today", "Сегодня"),
    (
        "calendar.count",
        "{n} post(s) in this view",
        "Публикаций в этом виде: {n}",
    ),
    (
        "calendar.empty",
        "Nothing goes out in this period.",
        "В этот период ничего не выходит.",
    ),
    ("calendar.more", "+{n} more", "ещё {n}"),
    ("calendar.more_list", "Later posts", "Следующие публикации"),
    ("calendar.viewer_time", "your time", "ваше время"),
    (
        "calendar.hooked",
        "Posted when an event comes in",
        "Выходят по входящему событию",
    ),
    ("calendar.on_hook", "on hook {hook}", "по событию {hook}"),
    ("weekday.mon", "Mon", "Пн"),
    ("weekday.tue", "Tue", "Вт"),
    ("weekday.wed", "Wed", "Ср"),
    ("weekday.thu", "Thu", "Чт"),
    ("weekday.fri", "Fri", "Пт"),
    ("weekday.sat", "Sat", "Сб"),
    ("weekday.sun", "Sun", "Вс"),
    ("month.1", "January", "Январь"),
    ("month.2", "February", "Февраль"),
    ("month.3", "March", "Март"),
    ("month.4", "April", "Апрель"),
    ("month.5", "May", "Май"),
    ("month.6", "June", "Июнь"),
    ("month.7", "July", "Июль"),
    ("month.8", "August", "Август"),
    ("month.9", "September", "Сентябрь"),
    ("month.10", "October", "Октябрь"),
    ("month.11", "November", "Ноябрь"),
    ("month.12", "December", "Декабрь"),
    ("mark.approval", "needs approval", "ждёт согласования"),
    ("mark.delayed", "delayed by rules", "задержано правилами"),
    ("mark.rejected", "rejected by rules", "отклонено правилами"),
    ("mark.paused", "paused", "на паузе"),
    ("mark.sent", "sent", "отправлено"),
    ("mark.failed", "failed", "не отправлено"),
    ("mark.condition", "condition", "условие"),
    ("mark.milestone", "contest", "конкурс"),
    ("filter.account", "Account", "Аккаунт"),
    ("filter.network", "Network", "Сеть"),
    ("filter.playbook", "Playbook", "Сценарий"),
    ("filter.outcome", "Outcome", "Итог"),
    ("filter.since", "Since", "С даты"),
    ("filter.any", "any", "все"),
    ("filter.apply", "Show", "Показать"),
    ("post.condition", "Goes out only if", "Выходит, только если"),
    ("post.images", "Images", "Изображения"),
    (
        "post.per_account",
        "As it goes out on each account",
        "Как публикация выйдет в каждом аккаунте",
    ),
    ("post.length", "{n}", "{n}"),
    (
        "post.over",
        "too long for this network",
        "слишком длинно для этой сети",
    ),
    ("post.no_limit", "no length limit", "без ограничения длины"),
    (
        "post.preview",
        "Preview on {network}",
        "Предпросмотр: {network}",
    ),
    (
        "post.none",
        "Nothing goes out at this time.",
        "В это время ничего не выходит.",
    ),
    ("runs.title", "Runs", "Запуски"),
    ("runs.empty", "No runs match.", "Подходящих запусков нет."),
    ("runs.older", "Older runs", "Более ранние запуски"),
    ("run.running", "running", "выполняется"),
    ("run.waiting", "waiting", "ждёт"),
    ("run.succeeded", "succeeded", "успешно"),
    ("run.failed", "failed", "ошибка"),
    ("run.skipped", "skipped", "пропущен"),
    ("run.missed", "missed", "пропущен (простой)"),
    ("run.rejected", "rejected", "отклонён"),
    ("send.pending", "waiting to be sent", "ждёт отправки"),
    ("send.sending", "being sent", "отправляется"),
    ("send.sent", "sent", "отправлено"),
    ("send.failed", "failed", "не отправлено"),
    ("send.held", "held by a pause", "задержано паузой"),
    ("send.skipped", "dropped", "отменено"),
    ("send.attempts", "{n} attempts", "попыток: {n}"),
    (
        "send.unconfirmed_check",
        "crier cannot tell whether this went out. Check {account} for the post before sending it again, or it may appear twice.",
        "crier не может узнать, вышла ли публикация. Проверьте {account}, прежде чем отправлять повторно, иначе она может выйти дважды.",
    ),
    ("send.again", "Send again", "Отправить повторно"),
    ("approvals.title", "Approvals", "Согласования"),
    (
        "approvals.waiting",
        "Waiting for a decision",
        "Ждут решения",
    ),
    ("approvals.decided", "Decided", "Решённые"),
    ("approvals.goes_out", "Goes out", "Выходит"),
    ("approvals.who", "Who decides", "Кто решает"),
    ("approvals.need.any", "one of them", "любой из них"),
    ("approvals.need.all", "every one of them", "все они"),
    ("approvals.by_when", "Decide by", "Решить до"),
    (
        "approvals.otherwise",
        "Without a decision",
        "Если решения не будет",
    ),
    (
        "approvals.timeout.hold",
        "it is held until someone decides",
        "публикация ждёт решения",
    ),
    (
        "approvals.timeout.skip",
        "it does not go out",
        "публикация не выйдет",
    ),
    (
        "approvals.timeout.send",
        "it goes out anyway",
        "публикация всё равно выйдет",
    ),
    ("approvals.accounts", "Accounts", "Аккаунты"),
    (
        "approvals.note",
        "Note (required to reject)",
        "Комментарий (обязателен при отклонении)",
    ),
    ("approvals.approve", "Approve", "Одобрить"),
    ("approvals.reject", "Reject", "Отклонить"),
    (
        "approvals.not_yours",
        "You are not one of its approvers.",
        "Вы не среди согласующих.",
    ),
    (
        "approvals.none_waiting",
        "Nothing waits for a decision.",
        "Нет публикаций, ждущих решения.",
    ),
    (
        "approvals.none_decided",
        "No decided approvals yet.",
        "Решённых согласований пока нет.",
    ),
    (
        "approvals.no_decisions",
        "decided without a decision (its deadline passed)",
        "решено без решения (срок истёк)",
    ),
    ("approval.pending", "waiting", "ждёт"),
    ("approval.approved", "approved", "одобрено"),
    ("approval.rejected", "rejected", "отклонено"),
    ("decision.approve", "approved", "одобрил(а)"),
    ("decision.reject", "rejected", "отклонил(а)"),
    ("decision.title", "Decide", "Решение"),
    (
        "decision.approve_title",
        "Approve {post}?",
        "Одобрить {post}?",
    ),
    (
        "decision.nothing",
        "This link does not decide anything",
        "Эта ссылка ничего не решает",
    ),
    (
        "decision.as",
        "Decide as {person}",
        "Решение от имени {person}",
    ),
    ("decision.state", "State", "Состояние"),
    (
        "decision.why_reject",
        "Why reject (required)",
        "Почему отклонить (обязательно)",
    ),
    (
        "decision.recorded",
        "Recorded: {by} {decision}",
        "Записано: {by} {decision}",
    ),
    (
        "decision.recorded_at",
        "Recorded at {at}; the service applies it within seconds.",
        "Записано в {at}; сервис применит это в течение нескольких секунд.",
    ),
    (
        "decision.invalid",
        "This link is damaged or was not made by this crier; open the decision from the dashboard.",
        "Ссылка повреждена или создана не этим crier; откройте решение из панели.",
    ),
    (
        "decision.expired",
        "This link expired at {at}; the decision was due by then.",
        "Срок ссылки истёк в {at}: решение нужно было принять до этого.",
    ),
    (
        "decision.other_person",
        "This link is {link_for}'s; you are signed in as {signed_in}.",
        "Это ссылка для {link_for}, а вы вошли как {signed_in}.",
    ),
    (
        "decision.unknown_person",
        "This link is for {person}, who is no longer one of the people in crier.yaml.",
        "Ссылка для {person}, а этого человека больше нет в people: файла crier.yaml.",
    ),
    (
        "decision.no_such_approval",
        "The approval this link decides is no longer stored.",
        "Согласования, которое решает эта ссылка, больше нет в хранилище.",
    ),
    (
        "decision.note_needed",
        "A rejection needs a note saying why.",
        "Для отклонения нужен комментарий с причиной.",
    ),
    (
        "decision.not_an_approver",
        "{by} cannot decide on {post}: its approvers are {approvers}.",
        "{by} не может решать по {post}: согласуют {approvers}.",
    ),
    (
        "decision.already",
        "{post} is already decided.",
        "По {post} уже решено.",
    ),
    (
        "decision.already_by",
        "{by} has already decided on {post}.",
        "{by} уже принял(а) решение по {post}.",
    ),
    ("kill.title", "Kill switch", "Стоп-кран"),
    (
        "kill.everything_paused",
        "Everything is paused: nothing goes out.",
        "Всё на паузе: ничего не выходит.",
    ),
    ("kill.pause_all", "Pause everything", "Остановить всё"),
    (
        "kill.pause_all_button",
        "Pause everything now",
        "Остановить всё сейчас",
    ),
    (
        "kill.pause_some",
        "Pause an account or a campaign",
        "Остановить аккаунт или кампанию",
    ),
    ("kill.what", "What to pause", "Что остановить"),
    ("kill.account", "account {name}", "аккаунт {name}"),
    ("kill.campaign", "campaign {name}", "кампания {name}"),
    ("kill.reason", "Reason", "Причина"),
    ("kill.until", "Until", "До"),
    (
        "kill.until_hint",
        "optional; {tz} time",
        "необязательно; время {tz}",
    ),
    (
        "kill.until_resumed",
        "until someone resumes",
        "пока не возобновят",
    ),
    ("kill.pause_button", "Pause", "Остановить"),
    (
        "kill.admins_only",
        "Only admins pause and resume.",
        "Ставить на паузу и возобновлять могут только администраторы.",
    ),
    ("kill.in_force", "Paused now", "Сейчас на паузе"),
    ("kill.by", "By", "Кто"),
    ("kill.since", "Since", "С"),
    ("kill.held", "Posts held", "Задержано публикаций"),
    ("kill.resume", "Resume", "Возобновить"),
    ("kill.none", "Nothing is paused.", "Ничего не на паузе."),
    ("scope.all", "Everything", "Всё"),
    (
        "scope.campaigns",
        "Every campaign (a crisis plan's pause)",
        "Все кампании (пауза антикризисного плана)",
    ),
    ("scope.account", "Account {name}", "Аккаунт {name}"),
    ("scope.campaign", "Campaign {name}", "Кампания {name}"),
    ("accounts.title", "Accounts", "Аккаунты"),
    (
        "accounts.explain",
        "Each account's secrets and its network's health check, nothing posted; and the last send that failed.",
        "Проверка секретов и доступности сети для каждого аккаунта, без публикаций; и последняя неудачная отправка.",
    ),
    ("accounts.account", "Account", "Аккаунт"),
    ("accounts.network", "Network", "Сеть"),
    ("accounts.health", "Health", "Состояние"),
    ("accounts.last_error", "Last error", "Последняя ошибка"),
    ("accounts.ok", "ready", "готов"),
    ("accounts.not_ok", "not ready", "не готов"),
    ("accounts.no_error", "none", "нет"),
    (
        "accounts.data_access",
        "Reads people's data until",
        "Доступ к данным пользователей до",
    ),
];

/// The code of a language this catalog has, chosen by `crier_lang` or `Accept-Language`.
pub fn choose(headers: &HeaderMap) -> &'static str {
    if let Some(chosen) = super::session::cookie(headers, COOKIE).and_then(|c| known(&c)) {
        return chosen;
    }
    let accepted = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best: Option<(f32, &'static str)> = None;
    for part in accepted.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim();
        let quality = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(code) = known(primary)
            && best.is_none_or(|(q, _)| quality > q)
        {
            best = Some((quality, code));
        }
    }
    best.map_or("en", |(_, code)| code)
}

/// `code` as one of [`LANGUAGES`]' codes, if it is one.
pub fn known(code: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .map(|(c, _)| *c)
        .find(|c| c.eq_ignore_ascii_case(code.trim()))
}

/// The text `key` in `lang`, `None` if the catalog has no such key.
pub fn text(lang: &str, key: &str) -> Option<&'static str> {
    static INDEX: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        CATALOG
            .iter()
            .map(|(key, en, ru)| (*key, (*en, *ru)))
            .collect()
    });
    index
        .get(key)
        .map(|(en, ru)| if lang == "ru" { *ru } else { *en })
}

/// The templates' `t(key, name=value…)`, in the language of the page being rendered.
pub fn translate(state: &State, key: &str, values: Kwargs) -> Result<String, Error> {
    let lang = state
        .lookup("lang")
        .and_then(|l| l.as_str().map(str::to_owned))
        .unwrap_or_else(|| "en".into());
    let Some(template) = text(&lang, key) else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("the dashboard's catalog has no text `{key}`"),
        ));
    };
    let mut out = template.to_string();
    for name in values.args() {
        let value: minijinja::Value = values.get(name)?;
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    Ok(out)
}
