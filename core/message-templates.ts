/**
 * The public template library (PRODUCT.md T1; seed "Public Template Library": "Developers can select
 * the template type to be used in the public template library according to the business scenario,
 * and search for the applicable template by template name").
 *
 * Seeded as a module, not as migration rows: the library is the platform's, read-only for every
 * team, and each keyword's data type is a rule the send path enforces, so the templates ship with
 * the code that validates them (a test checks every template: keys, types, examples, and
 * long-term only in the public-service categories the seed names). Searching some forty entries in
 * memory costs nothing, and a change to the library needs no data migration; "My Template" rows
 * copy what they use (title, type, keywords) so a later library edit never changes a template a
 * mini program already sends with.
 */
import {
  type KeywordType,
  keywordKey,
  type PublicTemplate,
  type TemplateCategory,
  type TemplateType,
} from "./messages";

function tpl(
  id: string,
  title: string,
  category: TemplateCategory,
  type: TemplateType,
  keywords: readonly [name: string, type: KeywordType, example: string][],
): PublicTemplate {
  return {
    id,
    title,
    category,
    type,
    keywords: keywords.map(([name, t, example], i) => ({
      key: keywordKey(t, i + 1),
      name,
      type: t,
      example,
    })),
  };
}

export const PUBLIC_TEMPLATES: readonly PublicTemplate[] = [
  // orders: one-time (a notification of the service link that follows one use)
  tpl("pt1001", "Order shipped", "orders", "one-time", [
    ["Order number", "character_string", "SO20261205-0042"],
    ["Item", "thing", "Wireless earbuds"],
    ["Carrier", "thing", "SF Express"],
    ["Shipped at", "time", "2026-12-05 14:30"],
    ["Note", "thing", "Arrives in 2 days"],
  ]),
  tpl("pt1002", "Payment successful", "orders", "one-time", [
    ["Order number", "character_string", "SO20261205-0042"],
    ["Amount paid", "amount", "¥199.00"],
    ["Paid at", "time", "2026-12-05 10:02"],
    ["Payment method", "phrase", "Card"],
  ]),
  tpl("pt1003", "Order cancelled", "orders", "one-time", [
    ["Order number", "character_string", "SO20261205-0042"],
    ["Reason", "thing", "Cancelled by you"],
    ["Refund", "amount", "¥199.00"],
    ["Cancelled at", "time", "2026-12-05 11:20"],
  ]),
  tpl("pt1004", "Refund completed", "orders", "one-time", [
    ["Order number", "character_string", "SO20261205-0042"],
    ["Refund amount", "amount", "¥59.90"],
    ["Refunded to", "thing", "Original card"],
    ["Completed at", "time", "2026-12-06 09:15"],
  ]),
  tpl("pt1005", "Table ready", "orders", "one-time", [
    ["Restaurant", "thing", "Harbour Noodle House"],
    ["Queue number", "character_string", "A17"],
    ["Party size", "number", "4"],
    ["Ready at", "time", "18:45"],
  ]),
  tpl("pt1006", "Pickup code", "orders", "one-time", [
    ["Store", "thing", "Central Station"],
    ["Pickup code", "character_string", "8831"],
    ["Items", "thing", "2 coffees, 1 bagel"],
    ["Pick up before", "time", "2026-12-05 12:00"],
  ]),
  tpl("pt1007", "Booking confirmed", "orders", "one-time", [
    ["Service", "thing", "Haircut and wash"],
    ["Appointment", "date", "2026-12-08 15:00"],
    ["Place", "thing", "Studio 5, Queen's Rd"],
    ["Contact", "phone_number", "+852 2123 4567"],
  ]),
  // logistics: one-time
  tpl("pt2001", "Parcel out for delivery", "logistics", "one-time", [
    ["Tracking number", "character_string", "SF1234567890"],
    ["Courier", "name", "Li Wei"],
    ["Courier phone", "phone_number", "+86 138 0013 8000"],
    ["Expected", "time", "2026-12-05 17:00"],
  ]),
  tpl("pt2002", "Parcel delivered", "logistics", "one-time", [
    ["Tracking number", "character_string", "SF1234567890"],
    ["Delivered to", "thing", "Locker 12, Block B"],
    ["Delivered at", "time", "2026-12-05 16:42"],
    ["Pickup code", "character_string", "552907"],
  ]),
  tpl("pt2003", "Parcel delayed", "logistics", "one-time", [
    ["Tracking number", "character_string", "YT9876543210"],
    ["Reason", "thing", "Weather at hub"],
    ["New estimate", "date", "2026-12-07"],
  ]),
  tpl("pt2004", "Parcel awaiting pickup", "logistics", "one-time", [
    ["Tracking number", "character_string", "YT9876543210"],
    ["Pickup point", "thing", "Station 3"],
    ["Pickup code", "character_string", "7-2-1044"],
    ["Keep until", "date", "2026-12-09"],
  ]),
  tpl("pt2005", "Return picked up", "logistics", "one-time", [
    ["Return number", "character_string", "RT-20261205-77"],
    ["Item", "thing", "Running shoes, 42"],
    ["Picked up at", "time", "2026-12-05 09:30"],
  ]),
  // travel (transportation, a public-service field): flight delays need long-term messages
  tpl("pt3001", "Flight status changed", "travel", "long-term", [
    ["Flight", "character_string", "CX889"],
    ["Status", "phrase", "Late"],
    ["New departure", "time", "2026-12-05 21:40"],
    ["Gate", "character_string", "G23"],
    ["Note", "thing", "Gate closes 21:25"],
  ]),
  tpl("pt3002", "Boarding reminder", "travel", "long-term", [
    ["Flight", "character_string", "CX889"],
    ["Gate", "character_string", "G23"],
    ["Boarding at", "time", "21:10"],
    ["Seat", "character_string", "32A"],
  ]),
  tpl("pt3003", "Train ticket booked", "travel", "one-time", [
    ["Train", "character_string", "G1234"],
    ["Route", "thing", "Shenzhen N. to Wuhan"],
    ["Departure", "time", "2026-12-20 08:15"],
    ["Seat", "thing", "Coach 6, seat 11F"],
    ["Fare", "amount", "¥538.50"],
  ]),
  tpl("pt3004", "Train platform changed", "travel", "long-term", [
    ["Train", "character_string", "G1234"],
    ["New platform", "number", "7"],
    ["Departure", "time", "08:15"],
  ]),
  tpl("pt3005", "Hotel check-in reminder", "travel", "one-time", [
    ["Hotel", "thing", "Seaview Hotel Xiamen"],
    ["Check-in", "date", "2026-12-24"],
    ["Nights", "number", "3"],
    ["Booking number", "character_string", "HB-551203"],
  ]),
  tpl("pt3006", "Bus arriving", "travel", "long-term", [
    ["Line", "character_string", "M390"],
    ["Stop", "thing", "Science Park East"],
    ["Arrives in", "thing", "3 minutes"],
  ]),
  // government affairs: long-term where the service follows a case over time
  tpl("pt4001", "Application progress", "government", "long-term", [
    ["Application", "thing", "Residence permit"],
    ["Case number", "character_string", "GOV-2026-118204"],
    ["Status", "phrase", "Ready"],
    ["Updated at", "time", "2026-12-05 10:00"],
    ["Next step", "thing", "Collect at hall"],
  ]),
  tpl("pt4002", "Appointment reminder", "government", "long-term", [
    ["Service", "thing", "Passport application"],
    ["Office", "thing", "Civic Centre, desk 8"],
    ["Time", "date", "2026-12-10 09:30"],
    ["Bring", "thing", "ID card and 2 photos"],
  ]),
  tpl("pt4003", "Certificate ready", "government", "one-time", [
    ["Certificate", "thing", "Business licence"],
    ["Case number", "character_string", "GOV-2026-223311"],
    ["Collect at", "thing", "Market Bureau hall"],
  ]),
  tpl("pt4004", "Traffic violation notice", "government", "long-term", [
    ["Plate", "car_number", "粤B12345"],
    ["Violation", "thing", "No-stopping zone"],
    ["Fine", "amount", "¥200"],
    ["Occurred at", "time", "2026-12-03 08:12"],
  ]),
  // people's livelihood: utilities and housing
  tpl("pt5001", "Utility bill due", "livelihood", "long-term", [
    ["Service", "phrase", "Power"],
    ["Account", "character_string", "EL-0041-7789"],
    ["Amount due", "amount", "¥312.40"],
    ["Due date", "date", "2026-12-15"],
  ]),
  tpl("pt5002", "Planned water outage", "livelihood", "long-term", [
    ["Area", "thing", "Garden Estate 1-6"],
    ["From", "time", "2026-12-07 09:00"],
    ["Until", "time", "2026-12-07 15:00"],
    ["Reason", "thing", "Pipe maintenance"],
  ]),
  tpl("pt5003", "Repair request updated", "livelihood", "one-time", [
    ["Request", "character_string", "RP-88120"],
    ["Status", "phrase", "Done"],
    ["Technician", "name", "Chen Jing"],
  ]),
  // health (medical care)
  tpl("pt6001", "Appointment confirmed", "health", "one-time", [
    ["Hospital", "thing", "City General"],
    ["Department", "thing", "Cardiology"],
    ["Doctor", "name", "Dr. Zhang"],
    ["Time", "date", "2026-12-09 10:30"],
    ["Queue number", "number", "15"],
  ]),
  tpl("pt6002", "Queue call", "health", "long-term", [
    ["Department", "thing", "Cardiology"],
    ["Your number", "number", "15"],
    ["Now serving", "number", "12"],
    ["Room", "character_string", "3-204"],
  ]),
  tpl("pt6003", "Test results ready", "health", "long-term", [
    ["Test", "thing", "Blood panel"],
    ["Patient", "name", "Wang Fang"],
    ["Ready at", "time", "2026-12-06 14:00"],
    ["Note", "thing", "See report in app"],
  ]),
  tpl("pt6004", "Medication reminder", "health", "long-term", [
    ["Medicine", "thing", "Amoxicillin 500 mg"],
    ["Dose", "thing", "1 capsule"],
    ["Take at", "time", "20:00"],
  ]),
  tpl("pt6005", "Vaccination reminder", "health", "long-term", [
    ["Vaccine", "thing", "Influenza 2026-27"],
    ["Clinic", "thing", "Community clinic"],
    ["Date", "date", "2026-12-12"],
  ]),
  // finance
  tpl("pt7001", "Repayment reminder", "finance", "long-term", [
    ["Product", "thing", "Consumer loan"],
    ["Amount due", "amount", "¥1280.00"],
    ["Due date", "date", "2026-12-20"],
    ["Account", "character_string", "****5521"],
  ]),
  tpl("pt7002", "Account activity", "finance", "long-term", [
    ["Account", "character_string", "****5521"],
    ["Type", "phrase", "Debit"],
    ["Amount", "amount", "¥86.50"],
    ["Time", "time", "2026-12-05 12:44"],
    ["Merchant", "thing", "Metro ticket machine"],
  ]),
  tpl("pt7003", "Insurance claim update", "finance", "long-term", [
    ["Claim", "character_string", "CLM-2026-00931"],
    ["Status", "phrase", "Paid"],
    ["Amount", "amount", "¥4500.00"],
    ["Updated at", "time", "2026-12-05 16:00"],
  ]),
  tpl("pt7004", "Transfer received", "finance", "one-time", [
    ["From", "name", "Liu Yang"],
    ["Amount", "amount", "¥300.00"],
    ["Received at", "time", "2026-12-05 19:21"],
  ]),
  // education
  tpl("pt8001", "Class reminder", "education", "long-term", [
    ["Course", "thing", "Algebra II"],
    ["Teacher", "name", "Ms. Huang"],
    ["Starts at", "time", "2026-12-07 19:00"],
    ["Room", "thing", "Online classroom 4"],
  ]),
  tpl("pt8002", "Homework assigned", "education", "long-term", [
    ["Course", "thing", "English reading"],
    ["Assignment", "thing", "Chapter 6 questions"],
    ["Due", "date", "2026-12-09"],
  ]),
  tpl("pt8003", "Exam results published", "education", "long-term", [
    ["Exam", "thing", "Term 1 mathematics"],
    ["Student", "name", "Zhou Min"],
    ["Score", "number", "92"],
    ["Published at", "time", "2026-12-18 10:00"],
  ]),
  tpl("pt8004", "Enrollment confirmed", "education", "one-time", [
    ["Course", "thing", "Python for beginners"],
    ["Starts", "date", "2027-01-06"],
    ["Fee paid", "amount", "¥1999.00"],
  ]),
];

/** The library's template `id`, or undefined. */
export const publicTemplateById = (id: string): PublicTemplate | undefined =>
  PUBLIC_TEMPLATES.find((t) => t.id === id);
