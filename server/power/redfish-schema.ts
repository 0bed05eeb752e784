// The subset of the DMTF Redfish schema (DSP0266, DSP8010) the Redfish driver reads, as zod schemas.
// Loose objects on purpose: every vendor adds properties (Oem, @odata.etag…) that must not break parsing;
// what the driver uses is checked strictly enough.
import * as z from "zod";
import { BiosValue } from "../../protocol/index.js";

export const ODataId = z.looseObject({ "@odata.id": z.string().startsWith("/") });

export const ServiceRoot = z.looseObject({
  RedfishVersion: z.string().optional(),
  Systems: ODataId.optional(),
  SessionService: ODataId.optional(),
  Registries: ODataId.optional(),
  /** Where sessions are created (DSP0266 §13.3.4); older BMCs only have SessionService/Sessions. */
  Links: z.looseObject({ Sessions: ODataId.optional() }).optional(),
});
export type ServiceRoot = z.infer<typeof ServiceRoot>;

export const Collection = z.looseObject({ Members: z.array(ODataId) });

/** Anything, for answers whose body the driver does not read (a reset's 204, a session's DELETE). */
export const Ignored = z.unknown();

const Action = z.looseObject({ target: z.string().startsWith("/") });

export const ComputerSystem = z.looseObject({
  "@odata.id": z.string(),
  Id: z.string().optional(),
  /** On, Off, PoweringOn, PoweringOff, Paused (ComputerSystem.v1_x PowerState). */
  PowerState: z.string().nullable().optional(),
  Boot: z
    .looseObject({
      BootSourceOverrideTarget: z.string().nullable().optional(),
      BootSourceOverrideEnabled: z.string().nullable().optional(),
      "BootSourceOverrideTarget@Redfish.AllowableValues": z.array(z.string()).optional(),
    })
    .optional(),
  Actions: z.looseObject({
    "#ComputerSystem.Reset": Action.extend({
      "ResetType@Redfish.AllowableValues": z.array(z.string()).optional(),
    }),
  }),
  Bios: ODataId.optional(),
  Links: z.looseObject({ ManagedBy: z.array(ODataId).optional() }).optional(),
});
export type ComputerSystem = z.infer<typeof ComputerSystem>;

const Message = z.looseObject({ MessageId: z.string().optional(), Message: z.string().optional() });

export const Bios = z.looseObject({
  "@odata.id": z.string(),
  /** The current values (null: the BMC reports no value). */
  Attributes: z.record(z.string(), BiosValue.nullable()),
  /** The AttributeRegistry's Id, found through /redfish/v1/Registries. */
  AttributeRegistry: z.string().optional(),
  /** DSP0266 §9.8.2: pending settings live at SettingsObject; Time is when they were last applied. */
  "@Redfish.Settings": z
    .looseObject({
      SettingsObject: ODataId,
      Time: z.string().optional(),
      Messages: z.array(Message).optional(),
    })
    .optional(),
});
export type Bios = z.infer<typeof Bios>;

/** The pending settings object (…/Bios/Settings): the attributes staged for the next reset. */
export const BiosSettings = z.looseObject({
  Attributes: z.record(z.string(), BiosValue.nullable()).optional(),
});

/** A MessageRegistryFile: where the registry itself is. */
export const RegistryFile = z.looseObject({
  Id: z.string().optional(),
  Registry: z.string().optional(),
  Location: z.array(z.looseObject({ Uri: z.string().optional(), Language: z.string().optional() })),
});

export const RegistryAttribute = z.looseObject({
  AttributeName: z.string(),
  /** Enumeration, String, Integer, Boolean, Password. */
  Type: z.string().optional(),
  ReadOnly: z.boolean().optional(),
  Value: z.array(z.looseObject({ ValueName: z.string() })).optional(),
  LowerBound: z.number().optional(),
  UpperBound: z.number().optional(),
});
export type RegistryAttribute = z.infer<typeof RegistryAttribute>;

export const AttributeRegistry = z.looseObject({
  RegistryEntries: z.looseObject({ Attributes: z.array(RegistryAttribute) }),
});

export const VirtualMedia = z.looseObject({
  "@odata.id": z.string(),
  MediaTypes: z.array(z.string()).optional(),
  Inserted: z.boolean().nullable().optional(),
  Image: z.string().nullable().optional(),
  Actions: z
    .looseObject({
      "#VirtualMedia.InsertMedia": Action.optional(),
      "#VirtualMedia.EjectMedia": Action.optional(),
    })
    .optional(),
});
export type VirtualMedia = z.infer<typeof VirtualMedia>;

export const Manager = z.looseObject({ VirtualMedia: ODataId.optional() });

/** DSP0266 §9.4.4: { error: { code, message, @Message.ExtendedInfo: [Message…] } }. */
export const RedfishErrorBody = z.looseObject({
  error: z.looseObject({
    code: z.string().optional(),
    message: z.string().optional(),
    "@Message.ExtendedInfo": z.array(Message).optional(),
  }),
});
